FROM python:3.11-slim
WORKDIR /srv/paradup
COPY pyproject.toml README.md ./
COPY app ./app
# Compile the numba kernels (hashing and passages) into the image so no request ever waits for them.
# From / so that Python imports the installed package (the one `paradup`
# runs, and whose __pycache__ numba fills), not the source copy here.
RUN pip install --no-cache-dir ".[redis]" \
 && cd / && python -c "from app.engine import Service; from app.settings import Settings; \
      Service.open(Settings(store='sqlite:////tmp/warm.db')).close()" \
 && rm -f /tmp/warm.db*
ENV PARADUP_STORE=sqlite:////data/paradup.db \
    PARADUP_HOST=0.0.0.0 \
    PARADUP_PORT=8000
VOLUME ["/data"]
EXPOSE 8000
CMD ["paradup", "serve"]

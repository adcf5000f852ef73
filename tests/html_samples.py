"""Realistic HTML snippets written for this test suite (no third-party text)."""

# Realistic HTML, each with the paragraphs the standard-library splitter found
# in it, as (text, source[start:end]): the scanner must find exactly these.
ORDINARY_HTML: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "wordpress blocks": (
        (
            '<!-- wp:heading --><h2 class="wp-block-heading">Harbour works '
            "begin</h2><!-- /wp:heading -->\n<!-- wp:paragraph -->\n<p>The northern "
            "pier closes on Monday for repairs.</p>\n<!-- /wp:paragraph -->\n<!-- "
            'wp:image {"id":42} --><figure class="wp-block-image"><img '
            'src="pier.jpg" alt="The pier"/><figcaption>The pier in '
            "October.</figcaption></figure><!-- /wp:image -->\n<!-- wp:paragraph -->"
            "<p>Ferries move to the southern terminal.</p><!-- /wp:paragraph -->"
        ),
        [
            ("Harbour works begin", '<h2 class="wp-block-heading">Harbour works begin</h2>'),
            (
                "The northern pier closes on Monday for repairs.",
                "<p>The northern pier closes on Monday for repairs.</p>",
            ),
            ("The pier in October.", "<figcaption>The pier in October.</figcaption>"),
            ("Ferries move to the southern terminal.", "<p>Ferries move to the southern terminal.</p>"),
        ],
    ),
    "full page": (
        (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>'
            "Harbour | The Gazette</title><link rel=stylesheet href=/s.css><script>"
            "window.dataLayer = [{'page': '<p>x</p>'}];</script><style>p > a { "
            "color: red }</style></head>\n<body class=article><header><nav><ul><li>"
            '<a href="/">Home</a></li><li><a href="/city">City</a></li></ul></nav>'
            "</header><main><article><h1>Pier to close for repairs</h1><p "
            'class="byline">By <a href="/staff/jo">Jo Reed</a> &middot; 3 March</p>'
            "<p>Divers found corrosion on several columns, the authority said.</p>"
            "<aside><p>Related: <a href=/x>Ferry timetable</a></p></aside><p>"
            "Repairs will cost about &pound;4m.</p></article></main><footer><p>"
            "&copy; The Gazette</p></footer><script src=/app.js></script></body></html>"
        ),
        [
            ("Home", '<li><a href="/">Home</a></li>'),
            ("City", '<li><a href="/city">City</a></li>'),
            ("Pier to close for repairs", "<h1>Pier to close for repairs</h1>"),
            (
                "By Jo Reed · 3 March",
                '<p class="byline">By <a href="/staff/jo">Jo Reed</a> &middot; 3 March</p>',
            ),
            (
                "Divers found corrosion on several columns, the authority said.",
                "<p>Divers found corrosion on several columns, the authority said.</p>",
            ),
            ("Related: Ferry timetable", "<p>Related: <a href=/x>Ferry timetable</a></p>"),
            ("Repairs will cost about £4m.", "<p>Repairs will cost about &pound;4m.</p>"),
            ("© The Gazette", "<p>&copy; The Gazette</p>"),
        ],
    ),
    "attributes with markup characters": (
        (
            '<p data-json=\'{"a": "<b>"}\' title="5 > 3">Quoted angle brackets stay '
            "in attributes.</p><p class=lead id=first>Unquoted values work.</p><P "
            'CLASS="X">Upper case tags too.</P>'
        ),
        [
            (
                "Quoted angle brackets stay in attributes.",
                ('<p data-json=\'{"a": "<b>"}\' title="5 > 3">Quoted angle brackets stay in attributes.</p>'),
            ),
            ("Unquoted values work.", "<p class=lead id=first>Unquoted values work.</p>"),
            ("Upper case tags too.", '<P CLASS="X">Upper case tags too.</P>'),
        ],
    ),
    "entities": (
        (
            "<p>Caf&eacute; cr&egrave;me &amp; croissants &mdash; "
            "&#8220;quoted&#8221; &#x201C;hex&#x201D;.</p><p>AT&T &lt;tag&gt; &amp "
            "&copy 2026 &unknown; &#0; &#xD800;</p>"
        ),
        [
            (
                "Café crème & croissants — “quoted” “hex”.",
                (
                    "<p>Caf&eacute; cr&egrave;me &amp; croissants &mdash; "
                    "&#8220;quoted&#8221; &#x201C;hex&#x201D;.</p>"
                ),
            ),
            (
                "AT&T <tag> & © 2026 &unknown; � �",
                "<p>AT&T &lt;tag&gt; &amp &copy 2026 &unknown; &#0; &#xD800;</p>",
            ),
        ],
    ),
    "lists and implied end tags": (
        (
            "<ul><li>First item<li>Second item<li><p>Third, in a paragraph</p></ul>"
            "<ol><li>One</li><li>Two <ul><li>Nested</li></ul></li></ol><dl><dt>"
            "Term<dd>Definition<dt>Other term<dd>Other definition</dl>"
        ),
        [
            ("First item", "<li>First item"),
            ("Second item", "<li>Second item"),
            ("Third, in a paragraph", "<p>Third, in a paragraph</p>"),
            ("One", "<li>One</li>"),
            ("Two", "<li>Two <ul><li>Nested</li></ul></li>"),
            ("Nested", "<li>Nested</li>"),
            ("Term", "<dt>Term"),
            ("Definition", "<dd>Definition"),
            ("Other term", "<dt>Other term"),
            ("Other definition", "<dd>Other definition"),
        ],
    ),
    "table": (
        (
            "<table><caption>Results</caption><thead><tr><th>Team<th>Points</thead>"
            "<tbody><tr><td>North<td>12<tr><td>South</td><td>9</td></tr></tbody></table>"
        ),
        [
            ("Results", "<caption>Results</caption>"),
            ("Team", "<th>Team"),
            ("Points", "<th>Points"),
            ("North", "<td>North"),
            ("12", "<td>12<tr><td>South</td><td>9</td></tr>"),
            ("South", "<td>South</td>"),
            ("9", "<td>9</td>"),
        ],
    ),
    "unclosed paragraphs": (
        "<p>First paragraph<p>Second paragraph<div>A div</div><p>Third <b>bold</p>",
        [
            ("First paragraph", "<p>First paragraph"),
            ("Second paragraph", "<p>Second paragraph"),
            ("A div", "A div"),
            ("Third bold", "<p>Third <b>bold</p>"),
        ],
    ),
    "text directly in containers": (
        (
            "<div class=story>Lead text in a div. <em>Emphasis</em> continues.<div>"
            "A nested div.</div>Tail after the nested div.</div>\n<section>Section "
            "text<p>Section paragraph</p></section>Text after everything."
        ),
        [
            (
                "Lead text in a div. Emphasis continues.Tail after the nested div.",
                (
                    "Lead text in a div. <em>Emphasis</em> continues.<div>A nested "
                    "div.</div>Tail after the nested div."
                ),
            ),
            ("A nested div.", "A nested div."),
            ("Section text", "Section text"),
            ("Section paragraph", "<p>Section paragraph</p>"),
            ("Text after everything.", "Text after everything."),
        ],
    ),
    "comments and declarations": (
        (
            "<p>Before<!-- a comment with <p>markup</p> --> after.</p><!--[if IE]>"
            "<p>Old browsers</p><![endif]--><p><![CDATA[ignored]]>After CDATA.</p>"
            "<?php echo 'x'; ?><p>After PHP.</p>"
        ),
        [
            ("Before after.", "<p>Before<!-- a comment with <p>markup</p> --> after.</p>"),
            ("After CDATA.", "<p><![CDATA[ignored]]>After CDATA.</p>"),
            ("After PHP.", "<p>After PHP.</p>"),
        ],
    ),
    "ignored elements": (
        (
            "<p>Visible</p><noscript><p>Enable JavaScript</p><img src=x></noscript>"
            "<template><p>Template text</p></template><svg><text>SVG text</text>"
            "</svg><p>Inline <script>var s = '</p>';</script>script and <style>"
            ".a{}</style>style.</p><iframe src=x>fallback</iframe><object>"
            "obj</object><p>Last</p>"
        ),
        [
            ("Visible", "<p>Visible</p>"),
            (
                "Inline script and style.",
                "<p>Inline <script>var s = '</p>';</script>script and <style>.a{}</style>style.</p>",
            ),
            ("Last", "<p>Last</p>"),
        ],
    ),
    "blockquote and pre": (
        (
            '<blockquote class="twitter-tweet"><p lang=en>A quoted tweet.</p>'
            "&mdash; Someone (@someone)</blockquote><pre>  preformatted\n    text  "
            "</pre><address>1 Harbour Road</address>"
        ),
        [
            ("A quoted tweet.", "<p lang=en>A quoted tweet.</p>"),
            (
                "— Someone (@someone)",
                (
                    '<blockquote class="twitter-tweet"><p lang=en>A quoted tweet.</p>'
                    "&mdash; Someone (@someone)</blockquote>"
                ),
            ),
            ("preformatted text", "<pre>  preformatted\n    text  </pre>"),
            ("1 Harbour Road", "<address>1 Harbour Road</address>"),
        ],
    ),
    "whitespace and media": (
        (
            "\n  <p>\n   Indented   paragraph\n  text.\n  </p>\n  <figure><img "
            "src=a.jpg><hr><figcaption>  Caption  </figcaption></figure>\n<h3>"
            "\tHeading\t</h3>\n"
        ),
        [
            ("Indented paragraph text.", "<p>\n   Indented   paragraph\n  text.\n  </p>"),
            ("Caption", "<figcaption>  Caption  </figcaption>"),
            ("Heading", "<h3>\tHeading\t</h3>"),
        ],
    ),
    "stray and misnested tags": (
        (
            "</div></p><p>Stray end tags before.</span></p><div><p>Misnested <b>"
            "bold</div> after.</b></p><li>Orphan item</li></ul>"
        ),
        [
            ("Stray end tags before.", "<p>Stray end tags before.</span></p>"),
            ("Misnested bold", "<p>Misnested <b>bold"),
            ("after.", "after."),
            ("Orphan item", "<li>Orphan item</li>"),
        ],
    ),
    "self-closing forms": (
        "<div/>Text after an empty div.<p/>Text after p slash.<span/>Span.<hr/>Rule.",
        [
            (
                "Text after an empty div.Text after p slash.Span. Rule.",
                "Text after an empty div.<p/>Text after p slash.<span/>Span.<hr/>Rule.",
            ),
        ],
    ),
    "plain text fragment": (
        "Just a sentence with no markup & an ampersand.",
        [
            (
                "Just a sentence with no markup & an ampersand.",
                "Just a sentence with no markup & an ampersand.",
            ),
        ],
    ),
}

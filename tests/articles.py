"""Test articles written for this test suite (no third-party text)."""

# Same shape as the case that started the project: one paragraph per line,
# paragraphs 4 and 5 repeat paragraphs 2 and 3 word for word.
SEED_SHAPED_FR = "\n".join(
    [
        "La maire de Villebrune a inauguré jeudi la nouvelle médiathèque du quartier des Tanneurs, "
        "un chantier de deux ans financé en partie par la région. Le bâtiment, installé dans une "
        "ancienne usine textile, accueillera aussi une salle de concerts.",
        "Selon la municipalité, la médiathèque proposera plus de quarante mille ouvrages et un espace "
        "numérique ouvert jusqu'à vingt-deux heures. « Nous voulions un lieu où les habitants "
        "se sentent chez eux », a déclaré l'adjointe à la culture, Hélène Marchetti.",
        "Les travaux, estimés à 12 millions d'euros, ont connu plusieurs retards liés à la découverte "
        "de fondations médiévales sous l'ancienne usine. Les archéologues ont pu documenter les "
        "vestiges avant que le chantier ne reprenne au printemps dernier.",
        "Selon la municipalité, la médiathèque proposera plus de quarante mille ouvrages et un espace "
        "numérique ouvert jusqu'à vingt-deux heures. « Nous voulions un lieu où les habitants "
        "se sentent chez eux », a déclaré l'adjointe à la culture, Hélène Marchetti.",
        "Les travaux, estimés à 12 millions d'euros, ont connu plusieurs retards liés à la découverte "
        "de fondations médiévales sous l'ancienne usine. Les archéologues ont pu documenter les "
        "vestiges avant que le chantier ne reprenne au printemps dernier.",
    ]
)

ARCHIVED_EN = (
    "The harbour authority confirmed on Monday that the northern pier will close for repairs "
    "until the end of March, after divers found corrosion on several supporting columns.\n\n"
    "Ferry operators said they would move their departures to the southern terminal, adding "
    "that passengers should allow an extra twenty minutes to reach the boarding gates.\n\n"
    "A spokesperson for the authority said the repairs would cost about four million pounds "
    "and that no other part of the harbour was affected by the problem."
)

UNRELATED_EN = (
    "The city orchestra announced its autumn programme yesterday, opening with a cycle of "
    "symphonies that has not been performed in the region for more than a decade.\n\n"
    "Tickets go on sale next week, with reduced prices for students and for families who "
    "book three concerts or more before the end of the summer."
)

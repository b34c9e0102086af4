"""Monthly public reports and the staff reports page (issue 12): the program's measures
(heart.domain.metrics) from the live database or a planning store, published with
small-cell suppression as HTML, PDF, JSON and open-data CSV."""

from __future__ import annotations

# How sample rows spread over items and hours (data.sample.iter_raw_events); here, so that the
# command line can offer them without importing the generator.
NATURAL, EVEN = "natural", "even"
SPREADS = (NATURAL, EVEN)

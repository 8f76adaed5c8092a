"""The serving side: tracking and read routes over the analytics tables, a cache the flows invalidate, an analytics page."""

"""PDF rendering (WeasyPrint) with a restricted url_fetcher."""

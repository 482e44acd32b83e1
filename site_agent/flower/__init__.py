"""The site's Flower ClientApp, consent policy and local data loading."""

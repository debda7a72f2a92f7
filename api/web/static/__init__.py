"""Static assets of the web pages (a package only so that packaging tools ship its files)."""

"""Built-in plugins, written exactly as a third-party package would write them."""

"""`python -m crmflow`: the crmflow command line."""

from crmflow.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()

"""`python -m otel_llm ...` runs the `otel-llm` command line."""

from otel_llm.cli import main

if __name__ == "__main__":
    main()

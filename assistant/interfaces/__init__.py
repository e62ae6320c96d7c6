"""How people and programs reach planqa: the CLI, the web app, terminal/JSON output, LangChain."""

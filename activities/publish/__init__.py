"""Publishing: the results pull request on GitHub and the Claude analysis."""

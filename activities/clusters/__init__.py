"""Target clusters: Crossplane claims, cloud access tokens, what a target needs besides its apps."""

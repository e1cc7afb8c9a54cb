"""The Kubernetes API edge: client construction and the list/watch machinery every watched collection
shares (template ConfigMaps, namespace Pod Security labels). The only package importing ``kubernetes``."""

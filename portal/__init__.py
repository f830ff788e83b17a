"""The customers' side: request a refund, follow the case behind a secret link, send files, withdraw."""

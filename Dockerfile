# faststyle serve in a container: the web page and the HTTP API, no TensorFlow.
#   docker build -t faststyle .
#   docker run --rm -p 8000:8000 -e FASTSTYLE_TOKEN=change-me faststyle
# The service keeps no state: run as many replicas as you like behind any load balancer
# (docs/serve.md).
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY faststyle ./faststyle
RUN pip install --no-cache-dir ".[serve,heif]" && useradd --create-home faststyle
USER faststyle

EXPOSE 8000
# Inside a container the server must listen beyond loopback; the port mapping decides who reaches it.
CMD ["faststyle", "serve", "--host", "0.0.0.0", "--port", "8000"]
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"

"""Static files as production serves them: WhiteNoise's compressed, hashed copies, each
address worked out once a process. A page links five (the style sheets, the icon, the
scripts), and the manifest storage works each out again every time: a lookup in the
manifest, then a URL split and joined, 20 µs or so apiece. The manifest does not change
while the process runs (collectstatic writes it before the app starts), so neither do
the addresses."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class KeptManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._kept_urls: dict[str, str] = {}

    def url(self, name, force=False):
        if force:
            return super().url(name, force=True)
        try:
            return self._kept_urls[name]
        except KeyError:
            found = self._kept_urls[name] = super().url(name)
            return found

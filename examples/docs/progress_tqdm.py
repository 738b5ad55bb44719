"""An upload's progress on a tqdm bar: one bar per attempt, the form field in its caption."""

import pathlib
import sys

import anyio
import httpx
from tqdm import tqdm

from httpx_streaming import FormData, Progress, with_progress


class TqdmProgress:
    """A with_progress callback that draws a tqdm bar (a new one for each attempt)."""

    def __init__(self, **options: object) -> None:
        self.options = options
        self.bar: tqdm | None = None
        self.attempt = 0

    def __call__(self, progress: Progress) -> None:
        if progress.attempt != self.attempt:  # a retry: start a fresh bar
            self.close()
            self.attempt = progress.attempt
            self.bar = tqdm(total=progress.total, unit="B", unit_scale=True, **self.options)
        assert self.bar is not None
        if progress.part is not None:
            self.bar.set_postfix_str(progress.part, refresh=False)
        self.bar.update(progress.sent - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


async def main(base_url: str, photo: pathlib.Path, output=sys.stderr) -> int:
    form = FormData()
    form.add_field("title", "holiday")
    form.add_field("photo", photo, content_type="image/jpeg")
    bar = TqdmProgress(file=output, desc="upload")
    body = with_progress(form, bar)
    try:
        async with httpx.AsyncClient(base_url=base_url) as client:
            response = await client.post("/upload/photo", content=body, headers=body.headers)
    finally:
        bar.close()
    return response.status_code


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000", pathlib.Path(sys.argv[1])))

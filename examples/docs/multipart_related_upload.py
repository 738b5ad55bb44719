"""A Google-Drive-style upload: JSON metadata and the media in one multipart/related body."""

import pathlib

import anyio
import httpx

from httpx_streaming import MultipartBody


async def main(base_url: str, photo: pathlib.Path) -> dict:
    upload = MultipartBody("related")
    upload.add_json({"name": photo.name, "mimeType": "image/jpeg"})
    upload.add_part(photo, content_type="image/jpeg")  # read while it is sent
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/upload/drive/v3/files",
            params={"uploadType": "multipart"},
            content=upload,
            headers=upload.headers,  # multipart/related; boundary=...; type="application/json"
        )
    response.raise_for_status()
    return response.json()


if __name__ == "__main__":
    print(anyio.run(main, "http://127.0.0.1:8000", pathlib.Path("beach.jpg")))

// Reads a multipart body from standard input with Go's mime/multipart and prints, as
// JSON, every part: its headers as Go parsed them, its size and SHA-256, its bytes
// (base64) when small, and the parts of a nested multipart body. The tests of
// httpx-streaming compare this with what they built.
//
// Usage: multipartcheck 'CONTENT-TYPE' < body
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"strings"
)

type part struct {
	Headers map[string][]string `json:"headers"`
	Size    int64               `json:"size"`
	SHA256  string              `json:"sha256"`
	Data    []byte              `json:"data"`
	Parts   []part              `json:"parts,omitempty"`
}

const keepLimit = 1 << 20

func readParts(reader io.Reader, contentType string) ([]part, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		return nil, fmt.Errorf("not multipart: %s", mediaType)
	}
	parts := []part{}
	multipartReader := multipart.NewReader(reader, params["boundary"])
	for {
		next, err := multipartReader.NextRawPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, err
		}
		found := part{Headers: next.Header}
		nestedType := next.Header.Get("Content-Type")
		if strings.HasPrefix(strings.ToLower(nestedType), "multipart/") {
			nested, err := readParts(next, nestedType)
			if err != nil {
				return nil, err
			}
			found.Parts = nested
		} else {
			digest := sha256.New()
			kept := &strings.Builder{}
			size, err := io.Copy(io.MultiWriter(digest, limitedWriter{kept}), next)
			if err != nil {
				return nil, err
			}
			found.Size = size
			found.SHA256 = hex.EncodeToString(digest.Sum(nil))
			if size <= keepLimit {
				found.Data = []byte(kept.String())
			}
		}
		parts = append(parts, found)
	}
}

type limitedWriter struct{ builder *strings.Builder }

func (writer limitedWriter) Write(data []byte) (int, error) {
	if writer.builder.Len() <= keepLimit {
		writer.builder.Write(data)
	}
	return len(data), nil
}

func main() {
	parts, err := readParts(os.Stdin, os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "multipartcheck:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(parts); err != nil {
		fmt.Fprintln(os.Stderr, "multipartcheck:", err)
		os.Exit(1)
	}
}

package release

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// DefaultModTime is the timestamp archive entries and image layers get when
// the caller sets none: fixed, so rebuilding the same inputs gives the same
// sha256, and not before 1980, which zip's DOS time fields cannot hold.
func DefaultModTime() time.Time { return time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC) }

// Entry is one file in an archive, read from Path or, if Path is empty, Data.
// Dir makes it a directory (image layers need /tmp and a home directory).
// UID/GID are kept in tar only; zip has no owners.
type Entry struct {
	Name     string // path inside the archive, slash-separated
	Mode     fs.FileMode
	Path     string
	Data     []byte
	Dir      bool
	UID, GID int
}

func (e Entry) open() (io.ReadCloser, int64, error) {
	if e.Path == "" {
		return io.NopCloser(strings.NewReader(string(e.Data))), int64(len(e.Data)), nil
	}
	f, err := os.Open(e.Path)
	if err != nil {
		return nil, 0, fmt.Errorf("archive entry %s: %w", e.Name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("archive entry %s: %w", e.Name, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("archive entry %s: %s is not a regular file", e.Name, e.Path)
	}
	return f, st.Size(), nil
}

// sortedEntries checks names and orders entries by name, so that the archive
// bytes do not depend on the caller's order.
func sortedEntries(entries []Entry) ([]Entry, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("archive has no entries")
	}
	out := slices.Clone(entries)
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	for i, e := range out {
		if e.Name == "" || strings.HasPrefix(e.Name, "/") || strings.Contains(e.Name, "..") || strings.Contains(e.Name, `\`) {
			return nil, fmt.Errorf("archive entry name %q: want a relative slash-separated path without ..", e.Name)
		}
		if i > 0 && out[i-1].Name == e.Name {
			return nil, fmt.Errorf("archive entry %q is listed twice", e.Name)
		}
	}
	return out, nil
}

// WriteTarGz writes a reproducible .tar.gz: sorted entries, one fixed mtime,
// numeric owners without names, and an empty gzip header.
func WriteTarGz(w io.Writer, entries []Entry, modTime time.Time) error {
	// Default level: level 9 is 2.5x slower on a Go binary for 1% less.
	gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	if err := WriteTar(gz, entries, modTime); err != nil {
		return err
	}
	return gz.Close()
}

// WriteTar writes an uncompressed tar with WriteTarGz's rules.
func WriteTar(w io.Writer, entries []Entry, modTime time.Time) error {
	entries, err := sortedEntries(entries)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		mode := int64(e.Mode.Perm())
		if e.Mode&fs.ModeSticky != 0 {
			mode |= 0o1000 // c_ISVTX, for /tmp
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.Name,
			Mode:     mode,
			Uid:      e.UID,
			Gid:      e.GID,
			ModTime:  modTime.UTC().Truncate(time.Second),
			Format:   tar.FormatUSTAR,
		}
		if e.Dir {
			hdr.Typeflag = tar.TypeDir
			hdr.Name = strings.TrimSuffix(e.Name, "/") + "/"
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("archive entry %s: %w", e.Name, err)
			}
			continue
		}
		r, size, err := e.open()
		if err != nil {
			return err
		}
		hdr.Size = size
		if err := tw.WriteHeader(hdr); err != nil {
			r.Close()
			return fmt.Errorf("archive entry %s: %w", e.Name, err)
		}
		_, err = io.Copy(tw, r)
		r.Close()
		if err != nil {
			return fmt.Errorf("archive entry %s: %w", e.Name, err)
		}
	}
	return tw.Close()
}

// WriteZip writes a reproducible .zip with the same rules as WriteTarGz; the
// Unix mode is kept in the external attributes for unzip on macOS/Linux.
func WriteZip(w io.Writer, entries []Entry, modTime time.Time) error {
	entries, err := sortedEntries(entries)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	for _, e := range entries {
		if e.Dir {
			return fmt.Errorf("archive entry %s: zip archives here hold files only", e.Name)
		}
		r, _, err := e.open()
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: modTime.UTC().Truncate(2 * time.Second)}
		hdr.SetMode(e.Mode.Perm())
		fw, err := zw.CreateHeader(hdr)
		if err == nil {
			_, err = io.Copy(fw, r)
		}
		r.Close()
		if err != nil {
			return fmt.Errorf("archive entry %s: %w", e.Name, err)
		}
	}
	return zw.Close()
}

// WriteArchive picks the format from name's extension (.zip or .tar.gz).
func WriteArchive(w io.Writer, name string, entries []Entry, modTime time.Time) error {
	switch {
	case strings.HasSuffix(name, ".zip"):
		return WriteZip(w, entries, modTime)
	case strings.HasSuffix(name, ".tar.gz"):
		return WriteTarGz(w, entries, modTime)
	}
	return fmt.Errorf("archive %s: unknown format, want a name ending in .tar.gz or .zip", name)
}

// ArchiveFile is one regular file read back from an archive.
type ArchiveFile struct {
	Mode fs.FileMode
	Data []byte
}

// ReadArchive lists an archive's regular files by name. Tests and the release
// check use it to look inside what was packed.
func ReadArchive(path string) (map[string]ArchiveFile, error) {
	out := map[string]ArchiveFile{}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
			}
			out[f.Name] = ArchiveFile{Mode: f.Mode().Perm(), Data: b}
		}
		return out, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, hdr.Name, err)
		}
		out[hdr.Name] = ArchiveFile{Mode: fs.FileMode(hdr.Mode).Perm(), Data: b}
	}
}

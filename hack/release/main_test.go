package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "want a subcommand"},
		{[]string{"publish"}, `unknown subcommand "publish"`},
		{[]string{"release", "-version", "1.0.0", "-template", "../../krew/dgdr.yaml.tmpl"}, `VERSION="1.0.0"`},
		{[]string{"release", "-version", "v1.0.0", "-source-date-epoch", "12"}, "SOURCE_DATE_EPOCH"},
		{[]string{"image", "-name", "webhook"}, "-name and -out are required"},
		{[]string{"image", "-name", "webhook", "-out", "x.tar", "-platforms", "linux"}, "want os/arch"},
		{[]string{"image", "-name", "webhook", "-out", "x.tar"}, "set -pkg to build, or -prebuilt"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %q: got %v, want an error containing %q", tc.args, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("run %q wrote to stdout on failure: %q", tc.args, out.String())
		}
	}
}

func TestModTime(t *testing.T) {
	got, err := modTime("1700000000")
	if err != nil || got.Unix() != 1700000000 {
		t.Fatalf("modTime(1700000000) = %v, %v", got, err)
	}
	if got, _ := modTime(""); !got.Equal(got.UTC()) || got.Year() != 1980 {
		t.Errorf("modTime(\"\") = %v, want the 1980 default", got)
	}
}

// Package version reports the build's version, stamped by the Makefile with
// -ldflags "-X github.com/kubectl-dgdr/kubectl-dgdr/pkg/version.version=...".
package version

import (
	"runtime"
	"runtime/debug"
)

// Stamped at link time. They must stay plain uninitialised variables: -X does
// nothing on constants or on values computed by a function call.
var (
	version   string
	commit    string
	buildDate string
)

// Info is what `kubectl dgdr version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"buildDate,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the stamped version, falling back to the module's build info
// (set by `go install ...@vX`) and then to "dev".
func Get() Info {
	info := Info{Version: version, Commit: commit, BuildDate: buildDate,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && info.Commit == "" {
				info.Commit = s.Value
			}
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

// UserAgent is the User-Agent the plugin sends to the API server.
func UserAgent() string {
	i := Get()
	short := i.Commit
	if len(short) > 12 {
		short = short[:12]
	}
	return "kubectl-dgdr/" + i.Version + " (" + i.Platform + ") " + short
}

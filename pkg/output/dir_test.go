package output

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writeTypical(dir string, in Inputs) ([]string, error) {
	return Write(dir, typicalResults("vllm", mapping("TP", 1), mapping("TP", 1)), in)
}

// TestForeignFilesRefused: a directory with the user's files beside a
// profile is never replaced; the error lists what would be lost.
func TestForeignFilesRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj")
	writeFiles(t, dir, map[string]string{"src/main.c": "int main;", "NOTES.md": "notes", FileStatus: "status: success"})
	_, err := writeTypical(dir, typicalInputs("vllm", ""))
	want := `output directory "` + dir + `" holds files a profile did not write, which replacing it would delete: NOTES.md, src; move them away or pass another --output-dir`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	for _, f := range []string{"src/main.c", "NOTES.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s lost: %v", f, err)
		}
	}
	// Our own profile with one file added by hand is refused the same way.
	own := filepath.Join(t.TempDir(), "out")
	if _, err := writeTypical(own, typicalInputs("vllm", "")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, own, map[string]string{DirPrefillInterpolation + "/mine.txt": "x"})
	if _, err := writeTypical(own, typicalInputs("vllm", "")); err == nil || !strings.Contains(err.Error(), "would delete: "+DirPrefillInterpolation+"/mine.txt;") {
		t.Fatalf("hand-added file: %v", err)
	}
	// A profile from before the marker, with only profile files, is replaced.
	legacy := filepath.Join(t.TempDir(), "old")
	writeFiles(t, legacy, map[string]string{FileStatus: "status: success", FileResults: "{}", DirDecodeInterpolation + "/" + FileRawData: "x"})
	if _, err := writeTypical(legacy, typicalInputs("vllm", "")); err != nil {
		t.Fatalf("legacy profile: %v", err)
	}
	if files, _, err := readMarker(legacy); err != nil || !slices.Contains(files, FileResults) {
		t.Fatalf("marker after replacing: %v %v", files, err)
	}
}

// TestSymlinkOutputDir: a symbolic link is refused unless FollowSymlinks;
// then the directory it points to is written and the link stays a link.
func TestSymlinkOutputDir(t *testing.T) {
	root := t.TempDir()
	victim := filepath.Join(root, "victim")
	writeFiles(t, victim, map[string]string{"keep.txt": "x"})
	link := filepath.Join(root, "out")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	_, err := writeTypical(link, typicalInputs("vllm", ""))
	want := `output directory "` + link + `" is a symbolic link to "` + victim + `"; pass the directory itself, or --follow-symlinks to write where the link points`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	// Following it still never deletes the victim's file.
	in := typicalInputs("vllm", "")
	in.FollowSymlinks = true
	if _, err := writeTypical(link, in); err == nil || !strings.Contains(err.Error(), "keep.txt") {
		t.Fatalf("followed into a foreign directory: %v", err)
	}
	_ = os.Remove(filepath.Join(victim, "keep.txt"))
	if _, err := writeTypical(link, in); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(victim, FileResults)); err != nil {
		t.Fatalf("not written where the link points: %v", err)
	}
}

// TestStaleStagingCleaned: staging directories of dead runs (ours, by the
// marker) are removed at start; a live run's, and anything unmarked, stay.
func TestStaleStagingCleaned(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := []string{".out.staging-1", ".out.staging-2", ".out.staging-3.old"}
	for _, s := range stale {
		writeFiles(t, filepath.Join(parent, s), map[string]string{"x": "half"})
		writeMarkerPID(t, filepath.Join(parent, s), dead.Process.Pid)
	}
	live := filepath.Join(parent, ".out.staging-live")
	writeFiles(t, live, map[string]string{"x": "y"})
	writeMarkerPID(t, live, os.Getppid())
	unmarked := filepath.Join(parent, ".out.staging-unmarked")
	other := filepath.Join(parent, ".other.staging-1")
	writeFiles(t, unmarked, map[string]string{"x": "y"})
	writeFiles(t, other, map[string]string{"x": "y"})
	writeMarkerPID(t, other, dead.Process.Pid)

	if _, err := writeTypical(dir, typicalInputs("vllm", "")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(parent)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{".other.staging-1", ".out.staging-live", ".out.staging-unmarked", "out"}
	if !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
}

// rewritePID keeps the marker's file list and changes its writer.
func rewritePID(t *testing.T, dir string, pid int) {
	t.Helper()
	files, _, err := readMarker(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := markerHeader + "\npid " + strconv.Itoa(pid) + "\n" + strings.Join(files, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, MarkerFile), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeMarkerPID(t *testing.T, dir string, pid int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, MarkerFile), []byte(markerHeader+"\npid "+strconv.Itoa(pid)+"\nx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// killAtEnv makes the test binary a child that writes a profile into the
// directory named by killDirEnv and SIGKILLs itself at that step.
const (
	killAtEnv  = "DGDR_OUTPUT_KILL_AT"
	killDirEnv = "DGDR_OUTPUT_KILL_DIR"
)

func TestMain(m *testing.M) {
	if step := os.Getenv(killAtEnv); step != "" {
		in := typicalInputs("vllm", "")
		in.NoPlots = true
		in.afterStep = func(s string) {
			if s == step {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}
		if _, err := writeTypical(os.Getenv(killDirEnv), in); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(3)
		}
		os.Exit(0) // the step never came
	}
	os.Exit(m.Run())
}

// TestKillBetweenSteps: a profile killed (SIGKILL) after staging or after
// the swap always leaves the target directory holding a whole profile, the
// old one or the new one; the next run cleans up and succeeds.
func TestKillBetweenSteps(t *testing.T) {
	for _, step := range []string{"staged", "swapped"} {
		t.Run(step, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			first, err := writeTypical(dir, typicalInputs("vllm", "")) // with plots
			if err != nil {
				t.Fatal(err)
			}
			// As if an earlier, finished run had written it.
			dead := exec.Command("true")
			if err := dead.Run(); err != nil {
				t.Fatal(err)
			}
			rewritePID(t, dir, dead.Process.Pid)
			cmd := exec.Command(os.Args[0], "-test.run", "^$")
			cmd.Env = append(os.Environ(), killAtEnv+"="+step, killDirEnv+"="+dir)
			err = cmd.Run()
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed at %s: %v", step, err)
			}
			files, _, err := readMarker(dir)
			if err != nil {
				t.Fatalf("after a kill at %s the target has no marker: %v", step, err)
			}
			for _, f := range files {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("after a kill at %s, %s is listed but missing", step, f)
				}
			}
			hasPlots := slices.Contains(files, FileCostSLA)
			if (step == "staged") != hasPlots || (step == "staged" && !slices.Equal(files, first)) {
				t.Errorf("after a kill at %s the target holds the wrong profile (plots %v)", step, hasPlots)
			}
			// The next run removes the killed run's staging and replaces the profile.
			if _, err := writeTypical(dir, typicalInputs("vllm", "")); err != nil {
				t.Fatal(err)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 1 {
				t.Errorf("left behind after the next run: %v", entries)
			}
		})
	}
}

// TestCheckDirBeforeTheWork: CheckDir refuses what Write would refuse,
// before a (long) profile produces the outputs, and touches nothing.
func TestCheckDirBeforeTheWork(t *testing.T) {
	root := t.TempDir()
	proj := filepath.Join(root, "proj")
	writeFiles(t, proj, map[string]string{"NOTES.md": "notes", FileStatus: "status: success", MarkerFile: markerHeader + "\npid 1\n" + FileStatus + "\n"})
	victim := filepath.Join(root, "victim")
	writeFiles(t, victim, map[string]string{"keep.txt": "x"})
	link := filepath.Join(root, "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "file")
	writeFiles(t, root, map[string]string{"file": "x"})
	legacy := filepath.Join(root, "legacy")
	writeFiles(t, legacy, map[string]string{FileStatus: "status: success", FileResults: "{}"})
	for _, c := range []struct {
		dir    string
		follow bool
		want   string // "" passes
	}{
		{filepath.Join(root, "new"), false, ""},
		{legacy, false, ""}, // checked against the written files by Write
		{proj, false, "holds files a profile did not write, which replacing it would delete: NOTES.md;"},
		{link, false, "is a symbolic link to"},
		{link, true, "holds no previous profile (no .kubectl-dgdr-output); replacing it would delete: keep.txt;"},
		{file, false, "exists and is not a directory"},
		{"", false, "output directory is empty"},
	} {
		err := CheckDir(c.dir, c.follow)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckDir(%q, follow %v) = %v, want %q", c.dir, c.follow, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "new")); !os.IsNotExist(err) {
		t.Errorf("CheckDir created the directory: %v", err)
	}
}

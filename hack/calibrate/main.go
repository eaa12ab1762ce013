// Command calibrate refits the estimator's coefficients on
// ../shared/data/groundtruth and rewrites the generated coefficients file and
// pkg/estimator/ACCURACY.md. Run it with `make calibrate`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator/calibrate"
)

func main() {
	data := flag.String("data", "", "calibration data folder (default ../shared/data/groundtruth next to the repository)")
	dry := flag.Bool("dry-run", false, "print the report, write nothing")
	flag.Parse()
	if err := run(*data, *dry); err != nil {
		fmt.Fprintln(os.Stderr, "calibrate:", err)
		os.Exit(1)
	}
}

func run(data string, dry bool) error {
	root, err := calibrate.RepoRoot(".")
	if err != nil {
		return err
	}
	if data == "" {
		if data, err = calibrate.DataDir(root); err != nil {
			return err
		}
	}
	rep, err := calibrate.Run(data)
	if err != nil {
		return err
	}
	src, err := calibrate.GoSource(rep.Fitted)
	if err != nil {
		return err
	}
	md := rep.Markdown()
	if dry {
		fmt.Print(string(src), "\n", md)
		return nil
	}
	dir := filepath.Join(root, "pkg", "estimator")
	if err := os.WriteFile(filepath.Join(dir, "zz_generated_coefficients.go"), src, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ACCURACY.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Println("wrote pkg/estimator/zz_generated_coefficients.go and pkg/estimator/ACCURACY.md")
	return nil
}

package profiler

import (
	"bytes"
	"fmt"
	"time"
)

// LoggerName is the logger name in profile_sla.log lines (free per §9).
const LoggerName = "profile_sla"

// Logger writes profile_sla.log lines in the reference format
// "%(asctime)s - %(name)s - %(levelname)s - %(message)s" and keeps the
// warnings and errors (upstream's "profiling errors" list) for the status file.
type Logger struct {
	buf      bytes.Buffer
	now      func() time.Time
	Warnings []string
	// OnWarn, when set, sees every warning as it is logged (the CLI prints them).
	OnWarn func(msg string)
}

// NewLogger logs with the given clock (nil: time.Now).
func NewLogger(now func() time.Time) *Logger {
	if now == nil {
		now = time.Now
	}
	return &Logger{now: now}
}

func (l *Logger) write(level, format string, args ...any) string {
	if l == nil {
		return fmt.Sprintf(format, args...)
	}
	msg := fmt.Sprintf(format, args...)
	l.buf.WriteString(l.now().Format("2006-01-02 15:04:05"))
	l.buf.WriteString(" - " + LoggerName + " - " + level + " - ")
	l.buf.WriteString(msg)
	l.buf.WriteByte('\n')
	return msg
}

// Infof logs at INFO.
func (l *Logger) Infof(format string, args ...any) { l.write("INFO", format, args...) }

// Warnf logs at WARNING and records the message.
func (l *Logger) Warnf(format string, args ...any) {
	msg := l.write("WARNING", format, args...)
	if l == nil {
		return
	}
	l.Warnings = append(l.Warnings, msg)
	if l.OnWarn != nil {
		l.OnWarn(msg)
	}
}

// Errorf logs at ERROR.
func (l *Logger) Errorf(format string, args ...any) { l.write("ERROR", format, args...) }

// Bytes is the log so far.
func (l *Logger) Bytes() []byte {
	if l == nil {
		return nil
	}
	return l.buf.Bytes()
}

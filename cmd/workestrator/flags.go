package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/pkg/farm"
)

// envName is the environment variable a flag falls back to:
// WORKESTRATOR_ and the flag's name in capitals, '-' as '_'.
func envName(flagName string) string {
	return "WORKESTRATOR_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet returns a flag set whose usage prints synopsis, about, and
// every flag with its environment variable and default, on stderr (parse
// moves it to stdout for a --help).
func newFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: %s\n\n%s\n\nFlags (each also read from its environment variable when not given):\n", synopsis, about)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(out, "  --%s  [$%s]%s\n      %s\n", f.Name, envName(f.Name), def, f.Usage)
		})
	}
	return fs
}

// asksHelp reports whether args ask fs for help: -h, -help or --help among
// its flags, before the first argument that is not one (a worker's own
// flags are the worker's) and not as the value of a flag that takes one.
func asksHelp(fs *flag.FlagSet, args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			return false
		}
		name := strings.TrimLeft(a, "-")
		if name == "h" || name == "help" {
			return true
		}
		name, _, inline := strings.Cut(name, "=")
		f := fs.Lookup(name)
		if f == nil {
			return false // parsing fails there, before any help
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !inline && (!ok || !b.IsBoolFlag()) {
			i++ // its value
		}
	}
	return false
}

// parse parses args, then sets each flag not given from its environment
// variable (when set and not empty); a bad value names the variable. A --help prints the usage on
// stdout. It returns the flags whose value came from the environment.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) (fromEnv, error) {
	if asksHelp(fs, args) {
		fs.SetOutput(stdout)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err) // reported with the usage
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	env := fromEnv{}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		v := os.Getenv(envName(f.Name))
		if v == "" {
			return // unset or empty: the flag's default
		}
		env[f.Name] = envName(f.Name)
		vals := []string{v}
		if _, list := f.Value.(*listFlag); list {
			vals = strings.Split(strings.TrimRight(v, "\n"), "\n") // one value a line
		}
		for _, v := range vals {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("$%s=%q: %v", envName(f.Name), v, e)
				return
			}
		}
	})
	if _, ok := env["log-level"]; !ok && !given["log-level"] && fs.Lookup("log-level") != nil && os.Getenv(farm.LogEnv) != "" {
		env["log-level"] = farm.LogEnv // the flag's default
	}
	return env, err
}

// fromEnv maps the flags whose value came from the environment to their
// variables.
type fromEnv map[string]string

// explain names the variable in err when err is about a flag (it begins
// "--NAME") whose value came from the environment.
func (e fromEnv) explain(err error) error {
	if err == nil || !strings.HasPrefix(err.Error(), "--") {
		return err
	}
	msg := err.Error()[2:]
	name := msg[:strings.IndexFunc(msg+" ", func(r rune) bool { return r == ' ' || r == ':' || r == '/' })]
	if v, ok := e[name]; ok {
		return fmt.Errorf("$%s: %w", v, err)
	}
	return err
}

// listFlag is a flag that may be given many times; its environment
// variable holds one value a line.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// sizeFlag is a byte count with an optional K, M or G suffix (powers of
// 1024).
type sizeFlag int64

func (s *sizeFlag) String() string { return strconv.FormatInt(int64(*s), 10) }
func (s *sizeFlag) Set(v string) error {
	mult := int64(1)
	switch {
	case strings.HasSuffix(v, "K"):
		mult, v = 1<<10, strings.TrimSuffix(v, "K")
	case strings.HasSuffix(v, "M"):
		mult, v = 1<<20, strings.TrimSuffix(v, "M")
	case strings.HasSuffix(v, "G"):
		mult, v = 1<<30, strings.TrimSuffix(v, "G")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return fmt.Errorf("want a byte count such as 512M")
	}
	*s = sizeFlag(n * mult)
	return nil
}

// offSizeFlag is a sizeFlag that may also be "off" (-1).
type offSizeFlag struct{ sizeFlag }

func (s *offSizeFlag) Set(v string) error {
	if v == "off" {
		s.sizeFlag = -1
		return nil
	}
	if err := s.sizeFlag.Set(v); err != nil {
		return fmt.Errorf("want a byte count such as 64M, or off")
	}
	return nil
}

// hexFlag is bytes given in hexadecimal.
type hexFlag []byte

func (h *hexFlag) String() string { return hex.EncodeToString(*h) }
func (h *hexFlag) Set(v string) error {
	b, err := hex.DecodeString(v)
	if err != nil {
		return fmt.Errorf("want hexadecimal")
	}
	*h = b
	return nil
}

// tlsFlags are the TLS files of a client or a server.
type tlsFlags struct{ ca, cert, key string }

func (t *tlsFlags) add(fs *flag.FlagSet, side string) {
	fs.StringVar(&t.ca, "tls-ca", "", "PEM file of the CA that signed the "+side+"'s certificate; turns TLS on")
	fs.StringVar(&t.cert, "tls-cert", "", "PEM certificate file of this side (with --tls-key); turns TLS on")
	fs.StringVar(&t.key, "tls-key", "", "PEM private key file for --tls-cert")
}

// config returns the TLS configuration, nil when no TLS flag is set.
func (t *tlsFlags) config(server bool) (*tls.Config, error) {
	if t.ca == "" && t.cert == "" && t.key == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if (t.cert == "") != (t.key == "") {
		return nil, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if t.cert != "" {
		pair, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	if t.ca != "" {
		pem, err := os.ReadFile(t.ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate", t.ca)
		}
		if server {
			c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
		} else {
			c.RootCAs = pool
		}
	}
	if server && len(c.Certificates) == 0 {
		return nil, fmt.Errorf("a TLS server needs --tls-cert and --tls-key")
	}
	return c, nil
}

// defaultLevel is the log level without --log-level: the farm's
// WORKESTRATOR_LOG, else info.
func defaultLevel() string {
	if l := os.Getenv(farm.LogEnv); l != "" {
		return l
	}
	return "info"
}

// newLogger returns the command's hclog logger at level (a level name).
func newLogger(name, level string, out io.Writer) (hclog.Logger, error) {
	l := hclog.LevelFromString(level)
	if l == hclog.NoLevel {
		return nil, fmt.Errorf("--log-level %q: want trace, debug, info, warn, error or off", level)
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: l, Output: out}), nil
}

// durationUsage is a flag usage line for a duration with its zero meaning.
func durationUsage(what, zero string) string {
	return fmt.Sprintf("%s (a duration such as 500ms or 1m; 0 means %s)", what, zero)
}

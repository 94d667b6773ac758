package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// defaultFile is read when neither --config nor COMMENTD_CONFIG names a
// file, and only if it exists.
const defaultFile = "config.yaml"

// Loader reads the configuration from the file, the environment and the
// flags. It holds no state between loads; each Load starts afresh.
type Loader struct {
	fs *pflag.FlagSet // may be nil: no flags
}

// NewLoader returns a Loader over flags, which the caller has already
// parsed and to which RegisterFlags added the keys' flags. flags may be nil.
func NewLoader(flags *pflag.FlagSet) *Loader {
	return &Loader{fs: flags}
}

// Load reads defaults < file < environment < flags the user set, and
// validates the result. Errors name the key and the bad value.
func (l *Loader) Load() (*Config, error) {
	path, required := l.file()
	return l.load(path, required)
}

// file returns the config file to read, and whether it must exist: one
// named by --config or COMMENTD_CONFIG must; ./config.yaml need not.
func (l *Loader) file() (path string, required bool) {
	if l.fs != nil {
		if f := l.fs.Lookup(flagConfig); f != nil && f.Value.String() != "" {
			return f.Value.String(), true
		}
	}
	if p := os.Getenv(envConfig); p != "" {
		return p, true
	}
	return defaultFile, false
}

// newViper returns a fresh viper (never the global one) that knows every
// key's default and reads the environment.
func newViper() *viper.Viper {
	v := viper.New()
	for _, f := range fields(Default()) {
		// Without a default, Unmarshal would not see the key's env var.
		v.SetDefault(f.key, f.v.Interface())
	}
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	return v
}

// load reads path (if not "") over the defaults and env, then the flags.
func (l *Loader) load(path string, required bool) (*Config, error) {
	v := newViper()
	if path != "" {
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		err := v.ReadInConfig()
		switch {
		case err != nil && !required && errors.Is(err, fs.ErrNotExist):
			path = ""
		case err != nil:
			return nil, fmt.Errorf("config: read %s: %w", path, err)
		}
	}
	// viper knows only the defaults and the file so far (AutomaticEnv adds
	// no keys): anything unknown is a typo in the file, flush.batchsize.
	var unknown []error
	for _, k := range v.AllKeys() {
		if !isKey(k) {
			unknown = append(unknown, &KeyError{Key: k, Reason: "unknown key in " + path})
		}
	}
	if len(unknown) > 0 {
		return nil, errors.Join(unknown...)
	}

	if l.fs != nil {
		var err error
		l.fs.VisitAll(func(f *pflag.Flag) {
			if isKey(f.Name) && err == nil {
				err = v.BindPFlag(f.Name, f) // viper uses it only if f.Changed
			}
		})
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}

	c := Default()
	err := v.Unmarshal(c, func(dc *mapstructure.DecoderConfig) {
		dc.DecodeHook = decodeHook
		dc.WeaklyTypedInput = false // no "yes" → true, no 1.5 → 1
	})
	if err != nil {
		return nil, keyErrors(v, err)
	}
	for _, f := range fields(c) {
		// Lists are trimmed and an empty one is nil, whatever the source
		// (pflag does not trim "a, b").
		if list, ok := f.v.Interface().([]string); ok {
			f.v.Set(reflect.ValueOf(splitList(strings.Join(list, ","))))
		}
		if eps, ok := f.v.Interface().([]WebhookEndpoint); ok && len(eps) == 0 {
			f.v.Set(reflect.Zero(endpointsType))
		}
	}
	c.File = path
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// keyErrors turns mapstructure's errors into one KeyError per bad key.
func keyErrors(v *viper.Viper, err error) error {
	var out []error
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case *mapstructure.DecodeError:
			// "redis.addrs[1]" is reported as the key, with the whole list.
			key, _, _ := strings.Cut(e.Name(), "[")
			out = append(out, &KeyError{Key: key, Value: shown(key, v.Get(key)), Reason: e.Unwrap().Error()})
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				walk(err)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		default:
			out = append(out, fmt.Errorf("config: %w", err))
		}
	}
	walk(err)
	return errors.Join(out...)
}

// decodeHook converts what YAML, env and flags give (strings, YAML scalars)
// to the field's type, strictly: "abc" is not an int, 1.5 is not an int,
// 100 is not a duration (100 what?).
func decodeHook(from, to reflect.Type, data any) (any, error) {
	if to == durationType {
		switch d := data.(type) {
		case time.Duration:
			return d, nil
		case string:
			dur, err := time.ParseDuration(strings.TrimSpace(d))
			if err != nil {
				return nil, fmt.Errorf(`want a duration such as "250ms" or "1m30s"`)
			}
			return dur, nil
		case int:
			if d == 0 {
				return time.Duration(0), nil
			}
		}
		return nil, errors.New(`want a duration with a unit, such as "250ms" or "1m30s"`)
	}
	if from.Kind() != reflect.String {
		if to.Kind() == reflect.String && from.Kind() != reflect.Slice && from.Kind() != reflect.Map {
			return nil, errors.New("want a string; quote the value")
		}
		if isInt(to.Kind()) && isFloat(from.Kind()) {
			f := reflect.ValueOf(data).Float()
			if f != float64(int64(f)) {
				return nil, errors.New("want an integer")
			}
			return int64(f), nil
		}
		return data, nil
	}
	s := strings.TrimSpace(reflect.ValueOf(data).String())
	switch {
	case to == endpointsType:
		// From env or a flag: a JSON array (the file gives a YAML list).
		if s == "" {
			return []WebhookEndpoint(nil), nil
		}
		var eps []WebhookEndpoint
		if err := json.Unmarshal([]byte(s), &eps); err != nil {
			return nil, errors.New(`want a JSON array such as [{"name":"search","url":"https://…","secret":"whsec_…"}]`)
		}
		return eps, nil
	case to.Kind() == reflect.Slice && to.Elem().Kind() == reflect.String:
		return splitList(s), nil
	case to.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, errors.New("want true or false")
		}
		return b, nil
	case isInt(to.Kind()):
		n, err := strconv.ParseInt(s, 10, to.Bits())
		if err != nil {
			return nil, errors.New("want an integer")
		}
		return n, nil
	case isFloat(to.Kind()):
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, errors.New("want a number")
		}
		return f, nil
	}
	return data, nil
}

// splitList splits a comma-separated list, dropping blanks: "a:1, b:2";
// nil if nothing is left.
func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var endpointsType = reflect.TypeFor[[]WebhookEndpoint]()

func isInt(k reflect.Kind) bool {
	return slices.Contains([]reflect.Kind{reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64}, k)
}

func isFloat(k reflect.Kind) bool { return k == reflect.Float32 || k == reflect.Float64 }

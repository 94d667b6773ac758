package transfer

import (
	"encoding/xml"
	"errors"
	"io"
)

// xmlStream walks an XML file token by token and hands each element that
// want accepts to decode, which reads it whole with DecodeElement: only
// one such element is in memory at a time.
func xmlStream(r io.Reader, want func(path []string, se xml.StartElement) bool, decode func(d *xml.Decoder, se xml.StartElement) error) error {
	d := xml.NewDecoder(r)
	d.Strict = true
	var path []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if len(path) > 0 {
				return parseErr(d, errors.New("unexpected end of file"))
			}
			return nil
		}
		if err != nil {
			return parseErr(d, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if want(path, t) {
				if err := decode(d, t); err != nil {
					var pe *ParseError
					if errors.As(err, &pe) {
						return err
					}
					var se *xml.SyntaxError
					if errors.As(err, &se) {
						return parseErr(d, err)
					}
					return err
				}
				continue
			}
			path = append(path, t.Name.Local)
		case xml.EndElement:
			path = path[:len(path)-1]
		}
	}
}

func parseErr(d *xml.Decoder, err error) *ParseError {
	line, _ := d.InputPos()
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		line = se.Line
	}
	return &ParseError{Line: line, Offset: d.InputOffset(), Err: err}
}

package zmtp_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

func ExampleGreeting_Append() {
	g := zmtp.Greeting{Major: zmtp.VersionMajor, Minor: zmtp.VersionMinor, Mechanism: "CURVE"}
	b := g.Append(nil)
	fmt.Println(len(b))
	fmt.Print(hex.Dump(b))
	// Output:
	// 64
	// 00000000  ff 00 00 00 00 00 00 00  00 7f 03 01 43 55 52 56  |............CURV|
	// 00000010  45 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |E...............|
	// 00000020  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
	// 00000030  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
}

func ExampleReader() {
	// A two-part message, then a PING with a TTL of 10 s.
	stream := []byte{
		0x01, 0x05, 'h', 'e', 'l', 'l', 'o',
		0x00, 0x05, 'w', 'o', 'r', 'l', 'd',
		0x04, 0x07, 0x04, 'P', 'I', 'N', 'G', 0x00, 0x64,
	}
	r := zmtp.NewReader(bytes.NewReader(stream))
	r.SetMaxFrameSize(1 << 20)
	for {
		f, err := r.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		if f.IsCommand() {
			c, err := zmtp.ParseCommand(f.Body)
			if err != nil {
				fmt.Println("error:", err)
				return
			}
			p, _ := zmtp.ParsePing(c.Data)
			fmt.Printf("command %s, TTL %d ds\n", c.Name, p.TTL)
			continue
		}
		fmt.Printf("message frame %q, more: %v\n", f.Body, f.More())
	}
	// Output:
	// message frame "hello", more: true
	// message frame "world", more: false
	// command PING, TTL 100 ds
}

func ExampleMetadata_Append() {
	md := zmtp.Metadata{
		{Name: zmtp.PropSocketType, Value: []byte(zmtp.DEALER)},
		{Name: zmtp.PropIdentity, Value: nil},
	}
	body := zmtp.AppendReady(nil, md)
	frame := zmtp.AppendFrame(nil, zmtp.FlagCommand, body)
	fmt.Println(md.Len(), len(body), len(frame))
	fmt.Printf("% x\n", md.Append(nil))
	// Output:
	// 35 41 43
	// 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 06 44 45 41 4c 45 52 08 49 64 65 6e 74 69 74 79 00 00 00 00
}

func ExampleParseMetadata() {
	md, err := zmtp.ParseMetadata([]byte("\x0bSocket-Type\x00\x00\x00\x03SUB"))
	if err != nil {
		fmt.Println(err)
		return
	}
	st, _ := md.GetExact(zmtp.PropSocketType)
	fmt.Println(zmtp.PUB.Compatible(zmtp.SocketType(st)))
	_, err = zmtp.ParseMetadata([]byte("\x0bSocket-Type\x00\x00"))
	fmt.Println(err)
	// Output:
	// true
	// zmtp: malformed metadata: truncated property (14 bytes left)
}

func ExampleCheckGreetingPrefix() {
	// A ZMTP 1.0 peer opens with its identity frame, here empty.
	err := zmtp.CheckGreetingPrefix([]byte{0x01, 0x00})
	var ve *zmtp.VersionError
	fmt.Println(errors.As(err, &ve), ve.Major, errors.Is(err, zmtp.ErrUnsupportedVersion))
	// Output:
	// true 1 true
}

func ExampleReader_SetMaxFrameSize() {
	// The peer announces an 11-byte frame; the limit is checked on the
	// header, before the body is read.
	r := zmtp.NewReader(bytes.NewReader([]byte("\x00\x0bhello world")))
	r.SetMaxFrameSize(5)
	_, err := r.ReadFrame()
	fmt.Println(err)
	fmt.Println(errors.Is(err, zmtp.ErrFrameTooLarge))
	// Output:
	// zmtp: frame of 11 bytes exceeds the limit of 5 bytes
	// true
}

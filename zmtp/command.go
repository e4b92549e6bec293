package zmtp

import "fmt"

// Names of the commands ZMTP 3.1 and its security mechanisms define.
const (
	CmdReady     = "READY"
	CmdError     = "ERROR"
	CmdPing      = "PING"
	CmdPong      = "PONG"
	CmdSubscribe = "SUBSCRIBE"
	CmdCancel    = "CANCEL"
	CmdHello     = "HELLO"
	CmdWelcome   = "WELCOME"
	CmdInitiate  = "INITIATE"
	CmdMessage   = "MESSAGE"
)

// Command is a ZMTP command: a name and the data that follows it in the
// command frame's body. See 37/ZMTP, "Commands".
//
// A Command returned by [ParseCommand] aliases the body it was parsed from.
//
// The zero Command (no name, no data) is the empty command: its body is
// zero bytes, so it travels as the frame 04 00. No specification defines
// it, but libzmq's GSSAPI client sends one during its handshake (see
// [Command.IsEmpty]); [ParseCommand] still refuses an empty body, and a
// driver hands one to a handshake that asks for it as the zero Command.
type Command struct {
	Name string
	Data []byte

	// LibzmqPlainForm, on an ERROR command, makes Append and Len encode it
	// the way every libzmq release's PLAIN mechanism does: 5E "RROR"
	// instead of 05 "ERROR" (libzmq's C literal "\x05ERROR" swallows the E
	// into the hex escape). libzmq's PLAIN client recognises only that form
	// and reports a ZAP refusal as an authentication failure; sent the RFC
	// form it reports a protocol error. [ParseCommand] reads both forms as
	// ERROR. It is ignored on any other command.
	LibzmqPlainForm bool
}

// ValidCommandName reports whether name is 1 to 255 ASCII letters, the
// grammar of 37/ZMTP.
func ValidCommandName(name string) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// IsEmpty reports whether c is the empty command: no name and no data,
// encoded as a zero-length body.
func (c Command) IsEmpty() bool { return c.Name == "" && len(c.Data) == 0 }

// Len returns the size of the encoded command body: 0 for the empty
// command.
func (c Command) Len() int {
	if c.IsEmpty() {
		return 0
	}
	if c.libzmqPlainError() {
		return len(libzmqPlainError) + len(c.Data)
	}
	return 1 + len(c.Name) + len(c.Data)
}

func (c Command) libzmqPlainError() bool { return c.LibzmqPlainForm && c.Name == CmdError }

// Append appends the command body (name length, name, data) to b, or
// nothing for the empty command. It panics if c.Name is not a valid command
// name (an empty name with data included), which is a programming error.
func (c Command) Append(b []byte) []byte {
	if c.IsEmpty() {
		return b
	}
	if c.libzmqPlainError() {
		b = append(b, libzmqPlainError...)
		return append(b, c.Data...)
	}
	if !ValidCommandName(c.Name) {
		panic("zmtp: invalid command name " + quote(c.Name))
	}
	b = append(b, byte(len(c.Name)))
	b = append(b, c.Name...)
	return append(b, c.Data...)
}

// libzmqPlainError is the prefix libzmq 4.3.0 and later put on a PLAIN ERROR
// command: the C literal "\x05ERROR" reads as 0x5E 'R' 'R' 'O' 'R'.
const libzmqPlainError = "\x5eRROR"

// ParseCommand parses a command frame's body. The returned Data aliases body.
// An empty body is malformed: the empty command is not a command to
// ZMTP, and only a handshake that expects one (libzmq's GSSAPI) takes it,
// through its driver, never through ParseCommand.
//
// For interoperability it also reads the malformed ERROR that libzmq 4.3.x
// PLAIN peers send (the body starts 5E "RROR" instead of 05 "ERROR") as an
// ERROR command: its data, a reason length and reason, follow those 5 bytes.
func ParseCommand(body []byte) (Command, error) {
	if len(body) == 0 {
		return Command{}, malformed("command", "empty body")
	}
	n := int(body[0])
	if n == 0 || 1+n > len(body) {
		if len(body) >= len(libzmqPlainError) && string(body[:len(libzmqPlainError)]) == libzmqPlainError {
			return Command{Name: CmdError, Data: body[len(libzmqPlainError):]}, nil
		}
		return Command{}, malformed("command", "name length %d in a %d-byte body", n, len(body))
	}
	name := commandName(body[1 : 1+n])
	if !ValidCommandName(name) {
		return Command{}, malformed("command", "invalid name %q", body[1:1+n])
	}
	return Command{Name: name, Data: body[1+n:]}, nil
}

// commandName returns the name as a string, without allocating for the
// commands this package knows.
func commandName(b []byte) string {
	for _, known := range [...]string{CmdMessage, CmdPing, CmdPong, CmdSubscribe, CmdCancel,
		CmdReady, CmdError, CmdHello, CmdWelcome, CmdInitiate} {
		if string(b) == known {
			return known
		}
	}
	return string(b)
}

// Is reports whether the command's name is name. Command names are compared
// exactly, as libzmq compares them.
func (c Command) Is(name string) bool { return c.Name == name }

// String returns the command's name and data for debugging, the data
// quoted as Go quotes a byte string; the empty command reads "(empty
// command)".
func (c Command) String() string {
	if c.IsEmpty() {
		return "(empty command)"
	}
	return fmt.Sprintf("%s %q", quote(c.Name), c.Data)
}

//! Where a `run` template may put a value. roadie quotes every value as one
//! shell word, which protects it wherever the shell takes a word as data.
//! It does not where the shell reads the text again:
//!
//! - inside `"..."`, `'...'` or a here-document the quotes would be literal
//!   text, leaving `$(...)` in the value live;
//! - in arithmetic (`$(( ))`, `(( ))`, `$[ ]`, `let`, `declare -i`, an array
//!   subscript, `${...}`, the operands of `[[ ... -eq ... ]]`) bash expands
//!   and evaluates the text, `a[$(cmd)]` running `cmd`: such a value must be
//!   `| int`, which refuses anything but an integer when it is rendered;
//! - as code (`eval`, `sh -c`, `su -c`, `ssh HOST`, `watch`, `trap`, a
//!   `mapfile -C` callback) the value is a program however it is quoted: it
//!   must say so with `| quote`;
//! - as a variable name (`printf -v`, `read`, `mapfile`, `readarray`,
//!   `unset`, `-v`) a subscript in it is evaluated: no value belongs there.
//!
//! The command is found after the wrappers that run one (`sudo -u U`,
//! `timeout 5`, `nice -n 5`, `nohup`, `env A=1`, `stdbuf -oL`, `xargs`,
//! `command`, `exec`, `time`) and their options, and after assignments.
//!
//! `| safe` says the author quotes it. Comments are skipped (an apostrophe
//! in one starts no quote). Nor may a `run` line use `{{ env.KEY }}`: the
//! step has `$KEY` already, and a value written into the line is visible
//! to every user of the server (`ps`).

/// What the shell does with the text at some point of a template.
#[derive(PartialEq, Clone, Copy, Debug)]
enum Context {
    /// `'...'`.
    Single,
    /// `"..."`.
    Double,
    /// After `<<`: the rest is a here-document's text, taken as quoted.
    HereDocument,
    /// `$(( ))` or `(( ))` (`depth` counts the parentheses opened inside).
    ArithmeticParens { depth: u32 },
    /// `$[ ]` or an array subscript `name[ ]`.
    ArithmeticBracket { depth: u32 },
    /// `${ ... }`.
    Parameter { depth: u32 },
    /// `[[ ... ]]`.
    Test,
}

impl Context {
    /// The brackets that nest inside it, the closing one ending it.
    fn brackets(self) -> Option<(char, char)> {
        match self {
            Context::ArithmeticParens { .. } => Some(('(', ')')),
            Context::ArithmeticBracket { .. } => Some(('[', ']')),
            Context::Parameter { .. } => Some(('{', '}')),
            _ => None,
        }
    }
}

/// What a value at some place would be to the shell.
#[derive(PartialEq, Clone, Copy, Debug)]
enum Use {
    /// One word of data: quoting protects it.
    Word,
    Arithmetic,
    Code,
    Name,
}

/// Shells whose `-c` argument is a program.
const SHELLS: &[&str] = &["sh", "bash", "dash", "ksh", "zsh", "su", "runuser"];
/// Commands whose arguments are run as code.
const CODE_COMMANDS: &[&str] = &["eval", "ssh", "watch"];
/// Commands that run the command after their options (and, for some, one
/// operand), each with its options that take an argument (`-u U`).
const WRAPPERS: &[(&str, &[&str], usize)] = &[
    (
        "sudo",
        &[
            "-u",
            "-g",
            "-C",
            "-D",
            "-h",
            "-p",
            "-r",
            "-t",
            "-U",
            "-T",
            "-R",
            "--user",
            "--group",
            "--close-from",
            "--chdir",
            "--host",
            "--prompt",
            "--role",
            "--type",
            "--other-user",
            "--command-timeout",
            "--chroot",
        ],
        0,
    ),
    ("timeout", &["-s", "-k", "--signal", "--kill-after"], 1),
    ("nice", &["-n", "--adjustment"], 0),
    ("nohup", &[], 0),
    (
        "env",
        &["-u", "-C", "-S", "--unset", "--chdir", "--split-string"],
        0,
    ),
    (
        "stdbuf",
        &["-i", "-o", "-e", "--input", "--output", "--error"],
        0,
    ),
    (
        "xargs",
        &[
            "-a",
            "-d",
            "-E",
            "-e",
            "-I",
            "-i",
            "-L",
            "-l",
            "-n",
            "-P",
            "-s",
            "--arg-file",
            "--delimiter",
            "--max-args",
            "--max-procs",
            "--max-chars",
            "--process-slot-var",
        ],
        0,
    ),
    ("command", &[], 0),
    ("exec", &["-a"], 0),
    ("time", &[], 0),
    ("builtin", &[], 0),
];
/// `mapfile`/`readarray` options that take an argument; `-C`'s is code.
const MAPFILE_OPTIONS: &[&str] = &["-d", "-n", "-O", "-s", "-u", "-C", "-c"];
/// Commands that declare variables (`-i`: integer, `-n`: a name reference,
/// `-a`: an indexed array, whose subscripts are arithmetic).
const DECLARE_COMMANDS: &[&str] = &["declare", "typeset", "local", "readonly", "export"];
/// Words after which the next word starts a command again.
const PREFIX_WORDS: &[&str] = &[
    "if", "then", "else", "elif", "do", "while", "until", "!", "time", "{", "command", "builtin",
];
const ARITHMETIC_TESTS: &[&str] = &["-eq", "-ne", "-lt", "-le", "-gt", "-ge"];

/// Check a `run` template; the error says what is wrong and how to write it.
pub(super) fn check_value_quoting(template: &str) -> Result<(), String> {
    let mut scan = Scan::default();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        let block_end = match rest.get(..2) {
            Some("{{") => Some("}}"),
            Some("{%") => Some("%}"),
            Some("{#") => Some("#}"),
            _ => None,
        };
        if let Some(close) = block_end {
            let end = rest.find(close).map_or(rest.len(), |i| i + 2);
            let block = &rest[..end];
            if close == "}}" {
                scan.check_value(block, &rest[end..])?;
                scan.word.push(VALUE);
            }
            rest = &rest[end..];
            continue;
        }
        rest = &rest[scan.step(c, rest)..];
    }
    Ok(())
}

/// Stands for a value in the word being read.
const VALUE: char = '\u{1}';

#[derive(Default)]
struct Scan {
    stack: Vec<Context>,
    /// The words of the simple command being read (outside quotes).
    words: Vec<String>,
    /// The word being read.
    word: String,
}

impl Scan {
    fn top(&self) -> Option<Context> {
        self.stack.last().copied()
    }

    /// Read the character `c` at the start of `rest`; returns how many bytes
    /// it took.
    fn step(&mut self, c: char, rest: &str) -> usize {
        let mut step = c.len_utf8();
        let before = self.top();
        // Whether the text read is part of the word being read.
        let mut in_word = true;
        match (before, c) {
            (Some(Context::HereDocument), _) => in_word = false,
            (Some(Context::Single), '\'') | (Some(Context::Double), '"') => {
                self.stack.pop();
            }
            (Some(Context::Double) | None, '\\') => {
                step += rest[step..].chars().next().map_or(0, char::len_utf8);
            }
            (Some(Context::Single | Context::Double), _) => {}
            (_, '\'') => self.stack.push(Context::Single),
            (_, '"') => self.stack.push(Context::Double),
            (None, '#') if self.word.is_empty() => {
                step = rest.find('\n').unwrap_or(rest.len());
                in_word = false;
            }
            // `<<<` (a here-string) is one word, quoted as any other.
            (None, '<') if rest.starts_with("<<<") => step = 3,
            (None, '<') if rest.starts_with("<<") => self.stack.push(Context::HereDocument),
            (_, '$') if rest.starts_with("$((") => {
                self.stack.push(Context::ArithmeticParens { depth: 0 });
                step = 3;
            }
            (_, '$') if rest.starts_with("$[") => {
                self.stack.push(Context::ArithmeticBracket { depth: 0 });
                step = 2;
            }
            (_, '$') if rest.starts_with("${") && !rest.starts_with("${{") => {
                self.stack.push(Context::Parameter { depth: 0 });
                step = 2;
            }
            (None, '(') if rest.starts_with("((") && self.word.is_empty() => {
                self.stack.push(Context::ArithmeticParens { depth: 0 });
                step = 2;
            }
            (None, '[') if rest.starts_with("[[") && self.word.is_empty() => {
                self.end_command();
                self.stack.push(Context::Test);
                step = 2;
                in_word = false;
            }
            (None, '[') if is_name(&self.word) => {
                self.stack.push(Context::ArithmeticBracket { depth: 0 });
            }
            (Some(context), c) if context.brackets().is_some_and(|(open, _)| open == c) => {
                self.nest(1);
            }
            (Some(context), c) if context.brackets().is_some_and(|(_, close)| close == c) => {
                // `))` closes `$((`.
                let closed = self.nest(-1);
                step += usize::from(
                    closed
                        && matches!(context, Context::ArithmeticParens { .. })
                        && rest[1..].starts_with(')'),
                );
            }
            (Some(Context::Test), ']') if rest.starts_with("]]") => {
                self.stack.pop();
                self.end_command();
                step = 2;
                in_word = false;
            }
            (Some(Context::Test), c) if c.is_whitespace() => {
                self.end_word();
                in_word = false;
            }
            (None, c) if c.is_whitespace() && c != '\n' => {
                self.end_word();
                in_word = false;
            }
            (None, c) if "\n;&|()`".contains(c) => {
                self.end_word();
                self.end_command();
                in_word = false;
            }
            _ => {}
        }
        if in_word {
            self.word.push_str(&rest[..step]);
        }
        step
    }

    /// One more (`by` 1) or one fewer (-1) bracket open inside the
    /// context on top; returns whether that closed the context itself.
    fn nest(&mut self, by: i32) -> bool {
        if let Some(
            Context::ArithmeticParens { depth }
            | Context::ArithmeticBracket { depth }
            | Context::Parameter { depth },
        ) = self.stack.last_mut()
        {
            if let Some(new) = depth.checked_add_signed(by) {
                *depth = new;
            } else {
                self.stack.pop();
                return true;
            }
        }
        false
    }

    fn end_word(&mut self) {
        let word = std::mem::take(&mut self.word);
        if word.is_empty() {
            return;
        }
        // `then cmd`, `! cmd`, `{ cmd`: the command starts after them.
        if self.words.is_empty() && PREFIX_WORDS.contains(&word.as_str()) {
            return;
        }
        self.words.push(word);
    }

    fn end_command(&mut self) {
        self.words.clear();
        self.word.clear();
    }

    /// What a value here is to the shell, seen from the words around it
    /// (`next` is the template after the value).
    fn value_use(&self, next: &str) -> Use {
        match self.top() {
            Some(
                Context::ArithmeticParens { .. }
                | Context::ArithmeticBracket { .. }
                | Context::Parameter { .. },
            ) => return Use::Arithmetic,
            Some(Context::Test) => {
                // The word after the value's own word, and the one before it.
                let mut after = next.split_whitespace();
                if !next.starts_with(char::is_whitespace) {
                    after.next();
                }
                let following = after.next().unwrap_or_default();
                let previous = self.words.last().map(String::as_str);
                return if previous == Some("-v") {
                    Use::Name
                } else if ARITHMETIC_TESTS.contains(&following)
                    || previous.is_some_and(|p| ARITHMETIC_TESTS.contains(&p))
                {
                    Use::Arithmetic
                } else {
                    Use::Word
                };
            }
            _ => {}
        }
        let words = command_words(&self.words);
        let Some(command) = words.first().map(|w| basename(w)) else {
            return Use::Word;
        };
        let arguments = &words[1..];
        let previous = words.last().map(String::as_str).unwrap_or_default();
        let declares_numbers = DECLARE_COMMANDS.contains(&command)
            && arguments
                .iter()
                .any(|w| w.starts_with('-') && w.contains(['i', 'n', 'a']));
        // `trap CODE SIGNAL...`: only the first operand is code.
        let trap_code =
            command == "trap" && arguments.iter().all(|w| w.starts_with('-') && w.len() > 1);
        let mapfile = matches!(command, "mapfile" | "readarray");
        if command == "let" || declares_numbers {
            Use::Arithmetic
        } else if CODE_COMMANDS.contains(&command)
            || trap_code
            || (mapfile && previous == "-C")
            || (is_option_with(previous, 'c')
                && words.iter().any(|w| SHELLS.contains(&basename(w))))
        {
            Use::Code
        } else if mapfile && MAPFILE_OPTIONS.contains(&previous) {
            Use::Word
        } else if mapfile
            || matches!(command, "unset" | "read")
            || (previous == "-v" && matches!(command, "printf" | "test" | "["))
        {
            Use::Name
        } else {
            Use::Word
        }
    }

    /// A value `block` (`{{ ... }}`) met here, followed by `next`.
    fn check_value(&self, block: &str, next: &str) -> Result<(), String> {
        if block.contains("env.") {
            return Err(format!(
                "`{block}`: a `run` line gets the server's .env as variables ($KEY); \
                 written into the line, a value would show in `ps` to every user of the server"
            ));
        }
        let filter = last_filter(block);
        if filter == Some("safe") {
            return Ok(());
        }
        let quoted = match self.top() {
            Some(Context::Double) => Some(("\"...\"", "echo \"hello \"{{ name }}")),
            Some(Context::HereDocument) => Some(("a here-document", "a variable set before it")),
            Some(Context::Single) => Some(("'...'", "echo 'hello '{{ name }}")),
            _ => None,
        };
        if let Some((what, example)) = quoted {
            return Err(format!(
                "`{block}` is inside {what}: roadie quotes each value as a shell word, \
                 which there would not protect it. Put it outside the quotes \
                 (`{example}`), or mark it `| safe` if you quote it yourself"
            ));
        }
        match self.value_use(next) {
            Use::Word => Ok(()),
            Use::Arithmetic if filter == Some("int") => Ok(()),
            Use::Arithmetic => Err(format!(
                "`{block}` is in shell arithmetic, where bash evaluates a value again \
                 (`a[$(cmd)]` would run cmd) however it is quoted. Write `{}` so that only an \
                 integer is accepted, or mark it `| safe` if you check it yourself",
                with_filter(block, "int")
            )),
            Use::Code if filter == Some("quote") => Ok(()),
            Use::Code => Err(format!(
                "`{block}` is run as shell code there, however it is quoted. Pass it as an \
                 argument (`sh -c 'echo \"$1\"' sh {{{{ name }}}}`), or write `{}` if the value \
                 is meant to be a program (never a --param)",
                with_filter(block, "quote")
            )),
            Use::Name => Err(format!(
                "`{block}` is used as a variable name there, where bash evaluates a \
                 subscript in it (`a[$(cmd)]` would run cmd). Name the variable in the \
                 playbook, or mark it `| safe` if you check it yourself"
            )),
        }
    }
}

/// The words of the command a simple command runs: after leading
/// assignments and wrappers (`sudo -u U`, `timeout 5`, `env A=1`, ...) with
/// their options and operands. Empty while the value is one of those.
fn command_words(mut words: &[String]) -> &[String] {
    loop {
        let Some((first, rest)) = words.split_first() else {
            return words;
        };
        if is_assignment(first) {
            words = rest;
            continue;
        }
        let wrapper = basename(first);
        let Some((_, with_argument, operands)) =
            WRAPPERS.iter().find(|(name, ..)| *name == wrapper)
        else {
            return words;
        };
        let mut at = 0;
        while let Some(word) = rest.get(at) {
            if word == "--" {
                at += 1;
                break;
            }
            // `env -` (an empty environment) is an option too.
            let is_option = word.starts_with('-') && (word.len() > 1 || wrapper == "env");
            if !(is_option || wrapper == "env" && is_assignment(word)) {
                break;
            }
            // `-u U`, but not `-uU` or `--user=U`.
            at += if with_argument.contains(&word.as_str()) {
                2
            } else {
                1
            };
        }
        at += operands;
        words = rest.get(at..).unwrap_or_default();
    }
}

/// `NAME=...`: a variable assignment before a command (or `env`'s).
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| is_name(name))
}

/// `-c`, `-ec`, `-lc`: a short option cluster holding `option`.
fn is_option_with(word: &str, option: char) -> bool {
    word.strip_prefix('-')
        .is_some_and(|flags| !flags.starts_with('-') && flags.contains(option))
}

fn is_name(word: &str) -> bool {
    crate::dotenv::is_env_name(word)
}

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// The expression of `{{ ... }}`.
fn expression(block: &str) -> &str {
    block
        .trim_start_matches("{{")
        .trim_end_matches("}}")
        .trim_matches(['-', '+'])
        .trim()
}

/// The name of the filter that ends the expression `{{ ... }}`, if any.
fn last_filter(block: &str) -> Option<&str> {
    expression(block)
        .rsplit_once('|')
        .map(|(_, filter)| filter.trim())
}

/// `block` written with `filter` at its end.
fn with_filter(block: &str, filter: &str) -> String {
    format!("{{{{ {} | {filter} }}}}", expression(block))
}

#[cfg(test)]
mod tests {
    use super::check_value_quoting;

    #[test]
    fn values_evaluated_again_by_bash_are_refused() {
        for (bad, says) in [
            ("echo $(( {{ n }} + 1 ))", "| int }}"),
            ("(( {{ n }} > 2 )) && echo big", "| int }}"),
            ("echo $[ {{ n }} * 2 ]", "| int }}"),
            ("[[ {{ n }} -eq 1 ]] && echo one", "| int }}"),
            ("[[ 1 -lt {{ n }} ]]", "| int }}"),
            ("if [[ -f x && {{ n }} -ge 2 ]]; then echo; fi", "| int }}"),
            ("let x={{ n }}+1", "| int }}"),
            ("declare -i x={{ n }}", "| int }}"),
            ("local -ri x={{ n }}", "| int }}"),
            ("a[{{ n }}]=1", "| int }}"),
            ("echo ${a[{{ n }}]}", "| int }}"),
            ("echo ${HOME:{{ n }}}", "| int }}"),
            ("echo $(( ( {{ n }} ) ))", "| int }}"),
            ("eval echo {{ n }}", "| quote }}"),
            ("sh -c {{ n }}", "| quote }}"),
            ("sudo -u www bash -ec {{ n }}", "| quote }}"),
            ("/usr/bin/ssh other {{ n }}", "| quote }}"),
            ("x=1; then eval {{ n }}", "| quote }}"),
            ("printf -v {{ n }} %s x", "variable name"),
            ("read -r {{ n }}", "variable name"),
            ("unset {{ n }}", "variable name"),
            ("[[ -v {{ n }} ]]", "variable name"),
            ("trap {{ n }} EXIT", "| quote }}"),
            ("trap -- {{ n }} INT TERM", "| quote }}"),
            ("sudo bash -c {{ n }}", "| quote }}"),
            ("sudo -u www -H eval {{ n }}", "| quote }}"),
            ("timeout 5 ssh h {{ n }}", "| quote }}"),
            ("timeout -s KILL 5 eval {{ n }}", "| quote }}"),
            ("timeout --signal KILL 5 eval {{ n }}", "| quote }}"),
            ("sudo --user www eval {{ n }}", "| quote }}"),
            ("xargs --max-args 1 sh -c {{ n }}", "| quote }}"),
            ("env - eval {{ n }}", "| quote }}"),
            ("env A=1 eval {{ n }}", "| quote }}"),
            ("env -i A=1 B=2 sh -c {{ n }}", "| quote }}"),
            ("A=1 eval {{ n }}", "| quote }}"),
            ("nice -n 5 nohup sh -c {{ n }}", "| quote }}"),
            ("stdbuf -oL watch {{ n }}", "| quote }}"),
            ("xargs -n 1 sh -c {{ n }}", "| quote }}"),
            ("exec eval {{ n }}", "| quote }}"),
            ("command eval {{ n }}", "| quote }}"),
            ("time eval {{ n }}", "| quote }}"),
            ("sudo let x={{ n }}", "| int }}"),
            ("mapfile -t {{ n }} < f", "variable name"),
            ("readarray -d , -t {{ n }}", "variable name"),
            ("mapfile -C {{ n }} -c 1 x", "| quote }}"),
        ] {
            let e = check_value_quoting(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn values_used_as_words_are_allowed() {
        for good in [
            "echo $(( {{ n | int }} + 1 ))",
            "echo $(( {{ n | safe }} + 1 ))",
            "[[ -f {{ path }} ]] && [[ {{ a }} == b ]]",
            "[[ {{ n | int }} -eq 1 ]]",
            "[ {{ n }} -lt 3 ]",
            "echo $((n + 1)) {{ n }}",
            "n=$((n+1)); echo {{ n }}",
            "sh -c {{ restart | quote }}",
            "sh -c 'echo \"$1\"' sh {{ n }}",
            "export DJANGO_X={{ n }}",
            "echo ${HOME} {{ n }} $(cat {{ file }})",
            "echo ${{ '{#' | safe }}HOME}",
            "printf %s {{ n }}",
            "cd {{ dir }} && ls -c {{ n }}",
            "echo eval; echo {{ n }}",
            "echo a]b {{ n }}",
            "trap 'rm -f x' {{ signal }}",
            "trap - {{ signal }}",
            "sudo -u {{ user }} ls",
            "sudo --user {{ user }} ls",
            "sudo systemctl restart {{ unit }}",
            "timeout {{ seconds }} ls",
            "env A={{ n }} ls {{ n }}",
            "nice -n {{ n }} ls",
            "xargs -I {{ n }} echo",
            "mapfile -n {{ n }} -t lines",
            "sudo ls {{ n }}",
        ] {
            check_value_quoting(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }
}

/// What the check must refuse and allow, over generated templates; and that
/// a quoted value reaches real bash as itself.
#[cfg(test)]
mod properties {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::check_value_quoting;
    use crate::host::Host;
    use crate::playbook::{Action, Extra, Playbook, plan_task};

    /// Arithmetic contexts: `«v»` is the value, `«b»` and `«a»` text around
    /// it that stays inside the context, `«w»` the rest of the value's own
    /// word (`[[ ]]` looks at the word after it).
    const ARITHMETIC: &[&str] = &[
        "echo $(( «b» «v» «a» ))",
        "(( «b» «v» «a» )) && echo big",
        "echo $[ «b» «v» «a» ]",
        "let n=«b» «v» «a»",
        "declare -i n=«b» «v» «a»",
        "local -ri n=«b» «v» «a»",
        "a[«b» «v» «a»]=1",
        "echo ${a[«b» «v» «a»]}",
        "echo ${HOME:«b» «v» «a»}",
        "echo $(( ( «b» «v» «a» ) ))",
        "[[ «b» «v»«w» -eq 1 ]] && echo one",
        "[[ 1 -lt «v»«a» ]]",
    ];

    /// Contexts where the value is run as code.
    const CODE: &[&str] = &[
        "eval «b» «v» «a»",
        "sh -c «v» «a»",
        "sudo -u www bash -ec «v»",
        "/usr/bin/ssh «b» «v» «a»",
        "trap «v» «a»",
        "sudo bash -c «v» «a»",
        "sudo -u www -H eval «b» «v» «a»",
        "timeout 5 ssh «b» «v» «a»",
        "env A=1 eval «b» «v» «a»",
        "nice -n 5 nohup sh -c «v» «a»",
        "stdbuf -oL xargs sh -c «v» «a»",
        "command exec time eval «b» «v» «a»",
        "mapfile -C «v» «a»",
    ];

    /// Commands whose arguments are plain words.
    const PLAIN: &[&str] = &[
        "echo",
        "ls -l",
        "cp",
        "touch",
        "mkdir -p",
        "cat",
        "python3 manage.py",
        "git clone",
        "./virtualenv/bin/python",
        "sudo -u www ls",
        "timeout 5 cat",
        "env A=1 touch",
        "nice -n 5 nohup cp",
    ];

    /// What may come before the command, ending the one before it.
    const LEADS: &[&str] = &[
        "",
        "cd /srv && ",
        "if true; then ",
        "echo $((1 + 2)); ",
        "[[ -f x ]] && ",
        "# a comment, it's skipped\n",
    ];

    const FILTERS: &[&str] = &["int", "safe", "quote", "upper", "trim", "e"];

    /// Text that neither closes an arithmetic context nor starts another
    /// one: no quote, bracket, `$`, `{`, `#`, `-`, `&`, `;` or newline.
    fn inside() -> impl Strategy<Value = String> {
        "[a-z0-9_ +*/%^~,.:=]{0,12}"
    }

    /// One word of that text.
    fn word() -> impl Strategy<Value = String> {
        "[a-z0-9_+*/%^~,.:=]{0,8}"
    }

    /// Words a plain command takes (no options, no `~`).
    fn words() -> impl Strategy<Value = String> {
        "([a-zA-Z0-9_./,:@%+=]{1,8}( [a-zA-Z0-9_./,:@%+=]{1,8}){0,3})?"
    }

    /// A `{{ ... }}` placement of a value, spaced one of three ways, and
    /// its last filter.
    fn placement() -> impl Strategy<Value = (String, Option<&'static str>)> {
        (
            "[a-z_][a-z0-9_]{0,6}",
            prop::option::of(prop::sample::select(FILTERS)),
            prop::sample::select(&["{{ ", "{{", "{{- "][..]),
        )
            .prop_map(|(name, filter, open)| {
                let expression = match filter {
                    Some(filter) => format!("{name} | {filter}"),
                    None => name,
                };
                let close = match open {
                    "{{" => "}}",
                    "{{- " => " -}}",
                    _ => " }}",
                };
                (format!("{open}{expression}{close}"), filter)
            })
    }

    fn fill(shape: &str, value: &str, before: &str, after: &str, rest: &str) -> String {
        shape
            .replace("«v»", value)
            .replace("«b»", before)
            .replace("«a»", after)
            .replace("«w»", rest)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arithmetic_placements_are_refused_unless_int(
            lead in prop::sample::select(LEADS),
            shape in prop::sample::select(ARITHMETIC),
            (value, filter) in placement(),
            before in inside(),
            after in inside(),
            rest in word(),
        ) {
            let template = format!("{lead}{}", fill(shape, &value, &before, &after, &rest));
            let checked = check_value_quoting(&template);
            if matches!(filter, Some("int" | "safe")) {
                prop_assert!(checked.is_ok(), "{template}: {checked:?}");
            } else {
                let e = checked.expect_err(&template);
                prop_assert!(e.contains("arithmetic") && e.contains("| int }}"), "{template}: {e}");
            }
        }

        #[test]
        fn code_placements_are_refused_unless_quote(
            lead in prop::sample::select(LEADS),
            shape in prop::sample::select(CODE),
            (value, filter) in placement(),
            before in words(),
            after in words(),
        ) {
            let template = format!("{lead}{}", fill(shape, &value, &before, &after, ""));
            let checked = check_value_quoting(&template);
            if matches!(filter, Some("quote" | "safe")) {
                prop_assert!(checked.is_ok(), "{template}: {checked:?}");
            } else {
                let e = checked.expect_err(&template);
                prop_assert!(e.contains("shell code") && e.contains("| quote }}"), "{template}: {e}");
            }
        }

        #[test]
        fn plain_word_placements_are_allowed(
            lead in prop::sample::select(LEADS),
            command in prop::sample::select(PLAIN),
            (value, _) in placement(),
            before in words(),
            rest in "[a-zA-Z0-9_./,:@%+=]{0,6}",
            after in words(),
        ) {
            let template = format!("{lead}{command} {before} {value}{rest} {after}");
            prop_assert!(check_value_quoting(&template).is_ok(), "{template}");
        }
    }

    proptest! {
        // One bash process a case: fewer cases, to stay about a second.
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn a_quoted_value_reaches_real_bash_as_itself(value in "[^\u{0}]{0,40}") {
            let script = planned_script(
                "printf '%s\\0' {{ v | quote }} {{ v }}",
                &value,
            );
            let out = std::process::Command::new("bash")
                .args(["--norc", "--noprofile", "-c", &script])
                .env_clear()
                .env("HOME", "/home/tester")
                .output()
                .expect("bash runs");
            prop_assert!(out.status.success(), "{script}: {out:?}");
            // `{{ v }}` keeps a leading `~` meaning the remote home.
            let home_path = match value.strip_prefix('~') {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                    format!("/home/tester{rest}")
                }
                _ => value.clone(),
            };
            prop_assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("{value}\0{home_path}\0"),
                "{}", script
            );
        }
    }

    /// The `run` line `line` of a one-step task rendered with its
    /// parameter `v` set to `value`.
    fn planned_script(line: &str, value: &str) -> String {
        let yaml = format!(
            "tasks:\n  t:\n    params:\n      v: {{}}\n    steps:\n      - run: \"{}\"\n",
            line.replace('\\', "\\\\")
        );
        let playbook = Playbook::parse("p", &yaml, "playbooks/p.yaml").expect("a valid playbook");
        let params = BTreeMap::from([("v".to_owned(), value.to_owned())]);
        let plan = plan_task(
            &playbook,
            &playbook.tasks[0],
            &Host::for_tests("web1"),
            &params,
            None,
            &Extra::default(),
        )
        .expect("a plan");
        match &plan[0].action {
            Action::Run { command, .. } => command.script.clone(),
            other => panic!("not a run step: {other:?}"),
        }
    }
}

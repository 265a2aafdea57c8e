using System.Text;

namespace SandboxRunner.Policy;

/// <summary>
/// The lexing half of the command audit: splits a script into simple commands' words at every operator
/// (<c>&amp;&amp; || ; | &amp;</c>, newlines, subshells, command substitutions), removes quotes and redirections,
/// decodes <c>$'…'</c> and leaves here-document bodies unread. What the words mean (wrappers, shells, programs
/// that start others, variables) is <see cref="ShellCommand"/>'s business.
/// </summary>
internal static partial class ShellLexer
{
    /// <summary>The placeholder a substitution leaves in a word: not shell syntax, so a re-parse cannot mistake it for a command.</summary>
    public const char Substituted = '…';

    /// <summary>What arithmetic leaves in a word: it always expands to a number, so a sed address or a count stays readable.</summary>
    public const char ArithmeticResult = '0';

    /// <summary>
    /// Ends a word part of which bash fills in when it runs (a variable, a command substitution, a glob, a brace
    /// expansion): the audit cannot know that part. <see cref="UnknownStart"/> ends one whose first character is
    /// such a part, so it may become anything, an option (<c>--pre=…</c>) or several words included. Only
    /// <see cref="ShellCommand"/> reads the marks; <see cref="Split"/> and the simple commands it returns drop them.
    /// </summary>
    public const char Unknown = '\u0001';

    /// <inheritdoc cref="Unknown"/>
    public const char UnknownStart = '\u0002';

    /// <summary>The word without its mark.</summary>
    public static string Unmarked(string word) => word.Length > 0 && word[^1] is Unknown or UnknownStart ? word[..^1] : word;

    /// <summary>Whether bash fills in part of the word.</summary>
    public static bool HasUnknown(string word) => word.Length > 0 && word[^1] is Unknown or UnknownStart;

    /// <summary>Whether bash fills in the word's start: it may expand to an option, or to several words.</summary>
    public static bool StartsUnknown(string word) => word.Length > 0 && word[^1] == UnknownStart;

    /// <summary>Deepest nesting of command substitutions read; each level costs a stack frame.</summary>
    public const int MaxDepth = 32;

    /// <summary>Deepest nesting of parentheses inside one <c>$(( … ))</c>, substitutions in it included (each adds up to three).</summary>
    public const int MaxArithmeticParens = 4 * MaxDepth;

    public static readonly HashSet<string> Keywords = new(StringComparer.Ordinal) { "if", "then", "else", "elif", "fi", "for", "do", "done", "while", "until", "case", "esac", "{", "}", "!", "time", "exec" };

    /// <summary>Whether bash takes <paramref name="word"/> (as read, quotes removed) for <c>NAME=value</c>.</summary>
    public static bool IsAssignment(string word)
    {
        var eq = word.IndexOf('=', StringComparison.Ordinal);
        return eq > 0 && word[..eq].All(c => char.IsAsciiLetterOrDigit(c) || c == '_') && !char.IsAsciiDigit(word[0]);
    }
    /// <summary>
    /// Splits a script into simple commands' words at every operator. Past <see cref="MaxDepth"/> it stops and
    /// returns what it read: good enough for the prefixes a config names, never for judging what an agent ran.
    /// </summary>
    public static List<List<string>> Split(string script) => new Reader(script).ReadAll().Select(words => words.Select(Unmarked).ToList()).ToList();

    /// <summary>
    /// One pass over a script. A substitution is read where it stands, by a nested call bounded by its end,
    /// never copied out and read again: a copy per nesting level made deep nesting cost quadratic time.
    /// </summary>
    internal sealed partial class Reader(string script)
    {
        private readonly string _script = script;
        private readonly List<List<string>> _commands = [];

        /// <summary>Why reading stopped early, or null. Every loop checks it, so a limit unwinds every level at once.</summary>
        public string? Unjudgeable { get; private set; }

        public List<List<string>> ReadAll()
        {
            ReadCommands(0, _script.Length, closesAtParen: false, depth: 0);
            return _commands;
        }

        /// <summary>
        /// Reads commands from <paramref name="i"/> up to <paramref name="end"/> or, inside <c>$(…)</c>, up to the
        /// unmatched ')' that closes it; returns that ')' index, or <paramref name="end"/>.
        /// </summary>
        private int ReadCommands(int i, int end, bool closesAtParen, int depth)
        {
            var words = new List<string>();
            var word = new StringBuilder();
            var inWord = false;
            var skipNextWord = false;
            var parens = 0;

            // bash takes a word for an assignment only when its name and '=' are unquoted and unexpanded:
            // 'CI=1' npm test runs a program named CI=1. Such a word where an assignment would stand is refused.
            var hereDocuments = new List<PendingHereDocument>();
            var leading = true;
            var sawEquals = false;
            var quotedEarly = false;

            // What bash fills in: anywhere in the word, at its start, and whether an unquoted '{' may be a brace expansion.
            var unknown = false;
            var unknownStart = false;
            var brace = false;

            void Quoting() => quotedEarly |= !sawEquals;

            void Filled()
            {
                unknownStart |= word.Length == 0;
                unknown = true;
            }

            void EndWord()
            {
                if (inWord)
                {
                    if (!skipNextWord)
                    {
                        var text = word.ToString();
                        if (leading && quotedEarly && IsAssignment(text))
                        {
                            Unjudgeable = $"'{text}' is quoted like an assignment where bash runs it as a program";
                        }

                        leading &= Keywords.Contains(text) || IsAssignment(text);
                        if (brace && text.Length > 1 && (text.Contains(',', StringComparison.Ordinal) || text.Contains("..", StringComparison.Ordinal)))
                        {
                            unknownStart |= text[0] == '{';
                            unknown = true;
                        }

                        words.Add(unknownStart ? text + UnknownStart : unknown ? text + Unknown : text);
                    }

                    skipNextWord = false;
                }

                word.Clear();
                inWord = false;
                sawEquals = false;
                quotedEarly = false;
                unknown = false;
                unknownStart = false;
                brace = false;
            }

            void EndCommand()
            {
                EndWord();
                if (words.Count > 0)
                {
                    _commands.Add(words);
                }

                words = [];
                skipNextWord = false;
                leading = true;
            }

            for (; i < end && Unjudgeable is null; i++)
            {
                var c = _script[i];
                switch (c)
                {
                    case '\\' when i + 1 < end:
                        Quoting();
                        if (_script[i + 1] != '\n')
                        {
                            word.Append(_script[i + 1]);
                            inWord = true;
                        }

                        i++;
                        break;
                    case '\'':
                        Quoting();
                        var quote = _script.IndexOf('\'', i + 1, end - i - 1);
                        quote = quote < 0 ? end : quote;
                        word.Append(_script, i + 1, quote - i - 1);
                        inWord = true;
                        i = quote;
                        break;
                    case '"':
                        Quoting();
                        i = ReadDoubleQuoted(i + 1, end, word, depth, out var filledAt);
                        if (filledAt >= 0)
                        {
                            unknownStart |= filledAt == 0;
                            unknown = true;
                        }

                        inWord = true;
                        break;
                    case '$' when i + 1 < end && _script[i + 1] == '\'':
                        Quoting();
                        i = ReadAnsiC(i + 2, end, word);
                        inWord = true;
                        break;
                    case '$' when i + 1 < end && _script[i + 1] == '(':
                        // $( ... ) runs a command of its own: audit it as one.
                        Quoting();
                        var substitutedAt = word.Length;
                        i = ReadDollarParen(i, end, depth, out var arithmetic);
                        if (!arithmetic)
                        {
                            // Arithmetic always gives a number; a command's output may be anything.
                            unknownStart |= substitutedAt == 0;
                            unknown = true;
                        }

                        word.Append(arithmetic ? ArithmeticResult : Substituted);
                        inWord = true;
                        break;
                    case '`':
                        Quoting();
                        Filled();
                        i = ReadBackticks(i + 1, end, depth);
                        word.Append(Substituted);
                        inWord = true;
                        break;
                    case ';' or '&' or '|' or '\n' or '(' or ')':
                        if (c == '&' && i > 0 && _script[i - 1] == '>')
                        {
                            break;
                        }

                        // Inside $( ... ) a subshell's parentheses pair up; only an unmatched ')' ends the substitution.
                        if (closesAtParen && c == '(')
                        {
                            parens++;
                        }
                        else if (closesAtParen && c == ')' && parens-- == 0)
                        {
                            EndCommand();
                            return i;
                        }

                        EndCommand();
                        if (c == '\n' && hereDocuments.Count > 0)
                        {
                            i = HereDocuments.SkipBodies(_script, i, end, hereDocuments, out var bodyReason);
                            Unjudgeable ??= bodyReason;
                        }

                        break;
                    case '<' when i + 2 < end && _script[i + 1] == '<' && _script[i + 2] == '<':
                        // A here-string: its word is no argument, but bash expands it, so a substitution in it runs
                        // (read as '<' and a here-document, cat <<< "$(curl evil)" hid its command).
                        EndWord();
                        i += 2;
                        skipNextWord = true;
                        break;
                    case '<' when i + 1 < end && _script[i + 1] == '<' && (i + 2 >= end || _script[i + 2] != '<'):
                        EndWord();
                        i = HereDocuments.ReadOperator(_script, i, end, hereDocuments, out var operatorReason);
                        Unjudgeable ??= operatorReason;
                        break;
                    case '>' or '<':
                        // A redirection's target is not a word of the command.
                        EndWord();
                        while (i + 1 < end && _script[i + 1] is '>' or '&' or '|')
                        {
                            i++;
                        }

                        if (i + 1 < end && char.IsAsciiDigit(_script[i + 1]))
                        {
                            i++;
                        }
                        else
                        {
                            skipNextWord = true;
                        }

                        break;
                    case ' ' or '\t' or '\r':
                        EndWord();
                        break;
                    case '#' when !inWord:
                        var newline = _script.IndexOf('\n', i, end - i);
                        i = (newline < 0 ? end : newline) - 1;
                        break;
                    default:
                        if (char.IsAsciiDigit(c) && !inWord && i + 1 < end && _script[i + 1] is '>' or '<')
                        {
                            break;
                        }

                        if ((c == '$' && i + 1 < end && (char.IsAsciiLetterOrDigit(_script[i + 1]) || _script[i + 1] is '_' or '{' or '@' or '*' or '#' or '?' or '$' or '!' or '-'))
                            || c is '*' or '?' or '[')
                        {
                            Filled();
                        }

                        brace |= c == '{';
                        sawEquals |= c == '=';
                        word.Append(c);
                        inWord = true;
                        break;
                }
            }

            EndCommand();
            return end;
        }
    }
}

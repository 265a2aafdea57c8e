namespace SandboxRunner.Policy;

/// <summary>
/// One pass over a sed script, command by command, as GNU sed's compiler reads it: finds the commands that run a
/// program (<c>e</c>, <c>s///e</c>) or write a file (<c>w</c>, <c>W</c>, <c>s///w</c>). Which words are scripts is
/// <see cref="SedScript"/>'s business.
/// </summary>
internal sealed class SedScriptReader(string script)
{
    private int _i;

    public bool Writes { get; private set; }

    /// <summary>Reads the whole script; returns why it may run a command, or null.</summary>
    public string? Read()
    {
        while (true)
        {
            SkipWhile(c => c is ' ' or '\t' or '\n' or ';');
            if (_i >= script.Length)
            {
                return null;
            }

            if (!Address())
            {
                return Unreadable();
            }

            SkipWhile(c => c is ' ' or '\t');
            if (Peek() == ',')
            {
                _i++;
                SkipWhile(c => c is ' ' or '\t');
                if (!(Peek() is '+' or '~' ? Number(skipSign: true) : Address()))
                {
                    return Unreadable();
                }
            }

            SkipWhile(c => c is ' ' or '\t' or '!');
            if (_i >= script.Length)
            {
                return Unreadable();
            }

            var command = script[_i++];
            switch (command)
            {
                case '{' or '}' or '=' or 'd' or 'D' or 'g' or 'G' or 'h' or 'H' or 'n' or 'N' or 'p' or 'P' or 'x' or 'z' or 'F':
                    break;
                case 'l' or 'L' or 'q' or 'Q':
                    SkipWhile(c => c is ' ' or '\t');
                    Number(skipSign: false);
                    break;
                case 'b' or 't' or 'T' or ':' or 'v':
                    // A label ends at whitespace here, earlier than sed may end it: what follows is then read as a command, never skipped.
                    SkipWhile(c => c is ' ' or '\t');
                    SkipWhile(c => c is not (';' or '\n' or ' ' or '\t' or '}'));
                    break;
                case '#':
                    SkipWhile(c => c != '\n');
                    break;
                case 'a' or 'i' or 'c':
                    Text();
                    break;
                case 'r' or 'R':
                    SkipWhile(c => c != '\n');
                    break;
                case 'w' or 'W':
                    Writes = true;
                    SkipWhile(c => c != '\n');
                    break;
                case 'e':
                    return "sed's e command runs a command";
                case 'y':
                    if (!Delimited(2))
                    {
                        return Unreadable();
                    }

                    break;
                case 's':
                    if (!Delimited(2))
                    {
                        return Unreadable();
                    }

                    if (SubstituteFlags() is { } reason)
                    {
                        return reason;
                    }

                    break;
                default:
                    return Unreadable();
            }
        }
    }

    private static string Unreadable() => "sed's script is not one the audit can read";

    private char? Peek() => _i < script.Length ? script[_i] : null;

    private void SkipWhile(Func<char, bool> predicate)
    {
        while (_i < script.Length && predicate(script[_i]))
        {
            _i++;
        }
    }

    /// <summary>An optional address: a line number (with <c>~step</c>), <c>$</c>, or a regex <c>/re/</c> or <c>\cREc</c> with its flags.</summary>
    private bool Address()
    {
        var c = Peek();
        if (c is >= '0' and <= '9')
        {
            Number(skipSign: false);
            if (Peek() == '~')
            {
                _i++;
                Number(skipSign: false);
            }

            return true;
        }

        if (c == '$')
        {
            _i++;
            return true;
        }

        if (c is '/' or '\\')
        {
            if (c == '\\')
            {
                _i++;
                if (_i >= script.Length || script[_i] is '\n' or '\\')
                {
                    return false;
                }
            }

            var delimiter = script[_i++];
            if (!Part(delimiter))
            {
                return false;
            }

            SkipWhile(f => f is 'I' or 'M');
        }

        return true;
    }

    private bool Number(bool skipSign)
    {
        if (skipSign)
        {
            _i++;
        }

        var start = _i;
        SkipWhile(char.IsAsciiDigit);
        return _i > start;
    }

    /// <summary>Reads <paramref name="parts"/> parts closed by the delimiter that stands at the current position.</summary>
    private bool Delimited(int parts)
    {
        if (_i >= script.Length || script[_i] is '\n' or '\\')
        {
            return false;
        }

        var delimiter = script[_i++];
        for (var part = 0; part < parts; part++)
        {
            if (!Part(delimiter))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Reads up to and past the next unescaped <paramref name="delimiter"/>.</summary>
    private bool Part(char delimiter)
    {
        for (; _i < script.Length; _i++)
        {
            if (script[_i] == '\\')
            {
                _i++;
            }
            else if (script[_i] == delimiter)
            {
                _i++;
                return true;
            }
        }

        return false;
    }

    /// <summary>The flags after <c>s/re/text/</c>: <c>e</c> runs the pattern space as a command, <c>w FILE</c> writes one.</summary>
    private string? SubstituteFlags()
    {
        while (_i < script.Length)
        {
            var c = script[_i];
            if (c is 'g' or 'p' or 'i' or 'I' or 'm' or 'M' || char.IsAsciiDigit(c))
            {
                _i++;
            }
            else if (c == 'e')
            {
                return "sed's s///e flag runs a command";
            }
            else if (c == 'w')
            {
                Writes = true;
                SkipWhile(x => x != '\n');
            }
            else
            {
                break;
            }
        }

        return null;
    }

    /// <summary>The text of <c>a</c>, <c>i</c>, <c>c</c>: to the end of the line, continued past lines ending in a backslash.</summary>
    private void Text()
    {
        SkipWhile(c => c is ' ' or '\t');
        if (Peek() == '\\')
        {
            _i++;
            if (Peek() == '\n')
            {
                _i++;
            }
        }

        for (; _i < script.Length && script[_i] != '\n'; _i++)
        {
            if (script[_i] == '\\')
            {
                _i++;
            }
        }
    }
}

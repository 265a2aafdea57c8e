using System.Text;

namespace SandboxRunner.Policy;

/// <summary>
/// Reads the command lines Codex reports (<c>/bin/bash -lc '…'</c>) well enough to audit them: unwraps
/// shell wrappers, splits compound commands at <c>&amp;&amp; || ; | &amp;</c>, newlines, subshells and
/// command substitutions, and removes quotes, redirections and leading variable assignments. It is an
/// auditor's reader, not a shell: anything it cannot place becomes a command of its own, to be judged.
/// </summary>
public static class ShellCommand
{
    /// <summary>Shells, by program name wherever they live: their <c>-c</c> script is audited instead of them.</summary>
    private static readonly HashSet<string> Shells = new(StringComparer.Ordinal) { "bash", "sh", "zsh", "dash", "ksh", "ash", "mksh" };

    /// <summary>Programs that run another command: the command they run is what gets judged.</summary>
    private static readonly HashSet<string> Wrappers = new(StringComparer.Ordinal)
    {
        "env", "command", "nohup", "nice", "timeout", "stdbuf", "sudo", "doas", "xargs", "exec", "time", "builtin", "setsid", "chrt", "ionice",
    };

    /// <summary>Wrapper options that take a value as the next word.</summary>
    private static readonly HashSet<string> OptionsWithValue = new(StringComparer.Ordinal)
    {
        "-u", "-n", "-s", "-k", "-g", "-C", "-c", "-p", "-i", "-o", "-e", "-I", "-L", "-P", "-d", "--user", "--signal", "--kill-after", "--adjustment", "--unset", "--chdir",
    };

    /// <summary>The placeholder a substitution leaves in a word: not shell syntax, so a re-parse cannot mistake it for a command.</summary>
    private const char Substituted = '…';
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal) { "if", "then", "else", "elif", "fi", "for", "do", "done", "while", "until", "case", "esac", "{", "}", "!", "time", "exec" };

    /// <summary>The simple commands in <paramref name="command"/>, each as its words, wrappers unwrapped.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> SimpleCommands(string command)
    {
        var result = new List<IReadOnlyList<string>>();
        Collect(command, result, depth: 0);
        return result;
    }

    private static void Collect(string script, List<IReadOnlyList<string>> result, int depth)
    {
        foreach (var words in Split(script))
        {
            var command = StripWrappers(StripPrefix(words));
            if (command.Count == 0)
            {
                continue;
            }

            if (depth < 8 && Shells.Contains(Path.GetFileName(command[0])) && ScriptArgument(command) is { } inner)
            {
                Collect(inner, result, depth + 1);
                continue;
            }

            result.Add(command);
        }
    }

    /// <summary>The script of <c>bash -c SCRIPT</c>, <c>bash -lc SCRIPT</c> and the like.</summary>
    private static string? ScriptArgument(List<string> command)
    {
        for (var i = 1; i < command.Count - 1; i++)
        {
            var word = command[i];
            if (!word.StartsWith('-'))
            {
                return null;
            }

            if (!word.StartsWith("--", StringComparison.Ordinal) && word.Contains('c', StringComparison.Ordinal))
            {
                return command[i + 1];
            }
        }

        return null;
    }

    private static List<string> StripPrefix(List<string> words)
    {
        var start = 0;
        while (start < words.Count && (Keywords.Contains(words[start]) || IsAssignment(words[start])))
        {
            start++;
        }

        return words[start..];
    }

    /// <summary>Drops <c>env FOO=1 nice -n 5 timeout 10</c> and the like from the front of a command.</summary>
    private static List<string> StripWrappers(List<string> words)
    {
        for (var guard = 0; guard < 8 && words.Count > 0 && Wrappers.Contains(Path.GetFileName(words[0])); guard++)
        {
            var wrapper = Path.GetFileName(words[0]);
            var i = 1;
            while (i < words.Count && (words[i].StartsWith('-') || IsAssignment(words[i])))
            {
                i += OptionsWithValue.Contains(words[i]) ? 2 : 1;
            }

            if (wrapper == "timeout" && i < words.Count)
            {
                i++; // the duration
            }

            words = i < words.Count ? words[i..] : [];
        }

        return words;
    }

    private static bool IsAssignment(string word)
    {
        var eq = word.IndexOf('=', StringComparison.Ordinal);
        return eq > 0 && word[..eq].All(c => char.IsAsciiLetterOrDigit(c) || c == '_') && !char.IsAsciiDigit(word[0]);
    }

    /// <summary>Splits a script into simple commands' words at every operator.</summary>
    internal static List<List<string>> Split(string script)
    {
        var commands = new List<List<string>>();
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        var skipNextWord = false;

        void EndWord()
        {
            if (inWord)
            {
                if (!skipNextWord)
                {
                    words.Add(word.ToString());
                }

                skipNextWord = false;
            }

            word.Clear();
            inWord = false;
        }

        void EndCommand()
        {
            EndWord();
            if (words.Count > 0)
            {
                commands.Add(words);
            }

            words = [];
            skipNextWord = false;
        }

        for (var i = 0; i < script.Length; i++)
        {
            var c = script[i];
            switch (c)
            {
                case '\\' when i + 1 < script.Length:
                    if (script[i + 1] != '\n')
                    {
                        word.Append(script[i + 1]);
                        inWord = true;
                    }

                    i++;
                    break;
                case '\'':
                    var quote = script.IndexOf('\'', i + 1);
                    quote = quote < 0 ? script.Length : quote;
                    word.Append(script, i + 1, quote - i - 1);
                    inWord = true;
                    i = quote;
                    break;
                case '"':
                    i = ReadDoubleQuoted(script, i + 1, word, commands);
                    inWord = true;
                    break;
                case '$' when i + 1 < script.Length && script[i + 1] == '\'':
                    i = ReadAnsiC(script, i + 2, word);
                    inWord = true;
                    break;
                case '$' when i + 2 < script.Length && script[i + 1] == '(' && script[i + 2] == '(':
                    // $(( ... )) is arithmetic, not a command.
                    var close = script.IndexOf("))", i + 3, StringComparison.Ordinal);
                    i = close < 0 ? script.Length : close + 1;
                    word.Append(Substituted);
                    inWord = true;
                    break;
                case '$' when i + 1 < script.Length && script[i + 1] == '(':
                    // $( ... ) runs a command of its own: audit it as one.
                    var end = MatchingParen(script, i + 2);
                    commands.AddRange(Split(script[(i + 2)..end]));
                    word.Append(Substituted);
                    inWord = true;
                    i = end;
                    break;
                case '`':
                    var tick = script.IndexOf('`', i + 1);
                    tick = tick < 0 ? script.Length : tick;
                    commands.AddRange(Split(script[(i + 1)..tick]));
                    word.Append(Substituted);
                    inWord = true;
                    i = tick;
                    break;
                case ';' or '&' or '|' or '\n' or '(' or ')':
                    if (c == '&' && i > 0 && script[i - 1] == '>')
                    {
                        break;
                    }

                    EndCommand();
                    break;
                case '>' or '<':
                    // A redirection's target is not a word of the command.
                    EndWord();
                    while (i + 1 < script.Length && script[i + 1] is '>' or '&' or '|')
                    {
                        i++;
                    }

                    if (i + 1 < script.Length && char.IsAsciiDigit(script[i + 1]))
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
                    var newline = script.IndexOf('\n', i);
                    i = (newline < 0 ? script.Length : newline) - 1;
                    break;
                default:
                    if (char.IsAsciiDigit(c) && !inWord && i + 1 < script.Length && script[i + 1] is '>' or '<')
                    {
                        break;
                    }

                    word.Append(c);
                    inWord = true;
                    break;
            }
        }

        EndCommand();
        return commands;
    }

    private static int ReadDoubleQuoted(string script, int i, StringBuilder word, List<List<string>> commands)
    {
        for (; i < script.Length; i++)
        {
            var c = script[i];
            if (c == '"')
            {
                return i;
            }

            if (c == '\\' && i + 1 < script.Length && script[i + 1] is '"' or '\\' or '$' or '`')
            {
                word.Append(script[++i]);
            }
            else if (c == '$' && i + 2 < script.Length && script[i + 1] == '(' && script[i + 2] == '(')
            {
                var close = script.IndexOf("))", i + 3, StringComparison.Ordinal);
                i = close < 0 ? script.Length : close + 1;
                word.Append(Substituted);
            }
            else if (c == '$' && i + 1 < script.Length && script[i + 1] == '(')
            {
                var end = MatchingParen(script, i + 2);
                commands.AddRange(Split(script[(i + 2)..end]));
                word.Append(Substituted);
                i = end;
            }
            else if (c == '`')
            {
                var tick = script.IndexOf('`', i + 1);
                tick = tick < 0 ? script.Length : tick;
                commands.AddRange(Split(script[(i + 1)..tick]));
                word.Append(Substituted);
                i = tick;
            }
            else
            {
                word.Append(c);
            }
        }

        return script.Length;
    }

    private static int MatchingParen(string script, int from)
    {
        var depth = 1;
        for (var i = from; i < script.Length; i++)
        {
            switch (script[i])
            {
                case '(':
                    depth++;
                    break;
                case ')' when --depth == 0:
                    return i;
                case '\'':
                    var close = script.IndexOf('\'', i + 1);
                    i = close < 0 ? script.Length : close;
                    break;
                case '"':
                    // A ')' inside double quotes does not end the substitution.
                    for (i++; i < script.Length && script[i] != '"'; i++)
                    {
                        if (script[i] == '\\')
                        {
                            i++;
                        }
                    }

                    break;
                case '\\':
                    i++;
                    break;
            }
        }

        return script.Length;
    }

    /// <summary>Reads <c>$'…'</c>, decoding its backslash escapes as bash does; returns the index of the closing quote.</summary>
    private static int ReadAnsiC(string script, int i, StringBuilder word)
    {
        for (; i < script.Length; i++)
        {
            var c = script[i];
            if (c == '\'')
            {
                return i;
            }

            if (c != '\\' || i + 1 >= script.Length)
            {
                word.Append(c);
                continue;
            }

            var e = script[++i];
            switch (e)
            {
                case 'n': word.Append('\n'); break;
                case 't': word.Append('\t'); break;
                case 'r': word.Append('\r'); break;
                case 'a': word.Append('\a'); break;
                case 'b': word.Append('\b'); break;
                case 'e' or 'E': word.Append('\u001b'); break;
                case 'f': word.Append('\f'); break;
                case 'v': word.Append('\v'); break;
                case 'x':
                    var hex = new string(script.Skip(i + 1).Take(2).TakeWhile(char.IsAsciiHexDigit).ToArray());
                    if (hex.Length > 0)
                    {
                        word.Append((char)Convert.ToInt32(hex, 16));
                        i += hex.Length;
                    }
                    else
                    {
                        word.Append("\\x");
                    }

                    break;
                case >= '0' and <= '7':
                    var octal = new string(script.Skip(i).Take(3).TakeWhile(ch => ch is >= '0' and <= '7').ToArray());
                    word.Append((char)Convert.ToInt32(octal, 8));
                    i += octal.Length - 1;
                    break;
                default:
                    word.Append(e);
                    break;
            }
        }

        return script.Length;
    }
}

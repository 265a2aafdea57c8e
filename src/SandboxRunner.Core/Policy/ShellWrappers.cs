namespace SandboxRunner.Policy;

/// <summary>
/// Programs that run another command given as their remaining words (<c>env</c>, <c>nice</c>, <c>timeout</c>,
/// <c>sudo</c>, <c>xargs</c>, …): the audit reads past their options to the command they run, which is what gets
/// judged, and refuses an option it does not know.
/// </summary>
internal static class ShellWrappers
{
    /// <summary>
    /// Programs that run another command: the command they run is what gets judged. Each lists only the options
    /// whose arguments are known and that name no command of their own, in getopt's notation (<c>x:</c> takes a
    /// value, <c>x::</c> an attached optional one; <c>name=</c> and <c>name[=]</c> likewise). Any other option
    /// could hide a command (<c>env -S</c>, <c>sudo -s</c>) or the program it runs (<c>sudo -R</c>), so a command
    /// using one cannot be audited.
    /// </summary>
    private static readonly Dictionary<string, Syntax> Wrappers = new(StringComparer.Ordinal)
    {
        // -C/--chdir is left out on purpose: it is a cd the audit would not see, so env -C DIR … is unjudgeable.
        ["env"] = new("iu:0v", ["ignore-environment", "unset=", "null", "debug"], Assigns: true),
        ["command"] = new("pvV", []),
        ["builtin"] = new("", []),
        ["exec"] = new("cla:", []),
        ["nohup"] = new("", []),
        ["nice"] = new("n:", ["adjustment="], NumberOptions: true),
        ["timeout"] = new("fk:ps:v", ["foreground", "kill-after=", "preserve-status", "signal=", "verbose"], Operand: Operand.Any),
        ["stdbuf"] = new("i:o:e:", ["input=", "output=", "error="]),
        ["setsid"] = new("cfw", ["ctty", "fork", "wait"]),
        ["chrt"] = new(
            "abdfioRrvT:P:D:",
            ["all-tasks", "batch", "deadline", "fifo", "idle", "other", "reset-on-fork", "rr", "verbose", "sched-runtime=", "sched-period=", "sched-deadline="],
            Operand: Operand.Number),
        ["ionice"] = new("tc:n:", ["ignore", "class=", "classdata="]),
        ["sudo"] = new(
            "AbBEHkNnPSa:C:c:D:g:p:r:t:T:u:",
            [
                "askpass", "background", "bell", "preserve-env[=]", "set-home", "reset-timestamp", "no-update", "non-interactive", "preserve-groups", "stdin",
                "auth-type=", "close-from=", "login-class=", "chdir=", "group=", "prompt=", "role=", "type=", "command-timeout=", "user=",
            ],
            Assigns: true),
        ["doas"] = new("na:u:", []),

        // -I/-i/--replace make each input line part of the command; Launchers refuses them where the input would be the program.
        ["xargs"] = new(
            "0a:d:E:e::I:i::L:l::n:opP:rs:tx",
            ["null", "arg-file=", "delimiter=", "eof[=]", "replace[=]", "max-lines[=]", "max-args=", "open-tty", "interactive", "max-procs=", "no-run-if-empty", "max-chars=", "show-limits", "verbose", "exit"]),
        ["time"] = new("apqvf:o:", ["append", "portability", "quiet", "verbose", "format=", "output="]),

        // A multi-call binary: busybox sh -c … is sh -c ….
        ["busybox"] = new("", []),
    };

    /// <summary>
    /// Drops <c>env FOO=1 nice -n 5 timeout 10</c> and the like from the front of a command, adding the variables
    /// they set to <paramref name="assigned"/>; returns why a wrapper cannot be read past, or null.
    /// </summary>
    public static string? Strip(List<string> words, List<string> assigned, out List<string> command)
    {
        command = words;
        XargsFeed? feed = null;
        var wrappedAfterFeed = false;
        for (var guard = 0; guard < 8 && command.Count > 0 && ShellCommand.ProgramName(command[0]) is { } wrapper && Wrappers.TryGetValue(wrapper, out var syntax); guard++)
        {
            var options = new List<(string Name, string? Value)>();
            if (SkipOptions(wrapper, syntax, command, options, out var i) is { } reason)
            {
                return reason;
            }

            // command -v NAME and -V NAME only say what NAME is; they run nothing, so the command is judged as itself.
            if (wrapper == "command" && options.Any(o => o.Name is "v" or "V"))
            {
                return null;
            }

            if (syntax.Operand != Operand.None && i < command.Count)
            {
                // chrt's priority: were it no number, some versions would take it for the command.
                if (syntax.Operand == Operand.Number && (command[i].Length == 0 || !command[i].All(char.IsAsciiDigit)))
                {
                    return $"{wrapper} is given '{command[i]}' where its priority stands";
                }

                i++;
            }

            for (; syntax.Assigns && i < command.Count && command[i].IndexOf('=', StringComparison.Ordinal) > 0; i++)
            {
                assigned.Add(command[i]);
            }

            wrappedAfterFeed |= feed is not null;
            if (wrapper == "xargs")
            {
                feed = new XargsFeed(Launchers.XargsReplacement(options));
            }

            command = i < command.Count ? command[i..] : [];
        }

        return feed is null ? null : Launchers.FedByXargs(command, feed, wrappedAfterFeed);
    }

    /// <summary>
    /// Reads a wrapper's options as getopt does, stopping at the first word that is none; <paramref name="next"/> is
    /// that word's index, and <paramref name="seen"/> gets each option with its value. Returns why an option cannot be read past, or null.
    /// </summary>
    private static string? SkipOptions(string wrapper, Syntax syntax, List<string> words, List<(string Name, string? Value)> seen, out int next)
    {
        for (next = 1; next < words.Count; next++)
        {
            var word = words[next];
            if (word == "--")
            {
                next++;
                return null;
            }

            if (word.Length < 2 || word[0] != '-')
            {
                return null;
            }

            if (syntax.NumberOptions && char.IsAsciiDigit(word[word[1] is '-' or '+' && word.Length > 2 ? 2 : 1]))
            {
                continue; // nice's old -5 for -n 5
            }

            if (word.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = word.IndexOf('=', StringComparison.Ordinal);
                var name = eq < 0 ? word[2..] : word[2..eq];
                if (syntax.Long.Contains(name + "="))
                {
                    seen.Add((name, eq >= 0 ? word[(eq + 1)..] : next + 1 < words.Count ? words[next + 1] : null));
                    next += eq < 0 ? 1 : 0;
                }
                else if (syntax.Long.Contains(name + "[=]") || (eq < 0 && syntax.Long.Contains(name)))
                {
                    seen.Add((name, eq >= 0 ? word[(eq + 1)..] : null));
                }
                else
                {
                    // getopt also takes an abbreviation (--split for --split-string): unknown here, so refused too.
                    return $"{wrapper} option --{name} is not one the audit can read past";
                }

                continue;
            }

            for (var j = 1; j < word.Length; j++)
            {
                var at = word[j] == ':' ? -1 : syntax.Short.IndexOf(word[j], StringComparison.Ordinal);
                if (at < 0)
                {
                    return $"{wrapper} option -{word[j]} is not one the audit can read past";
                }

                if (at + 1 < syntax.Short.Length && syntax.Short[at + 1] == ':')
                {
                    // The value is the rest of the word, or else the next word unless it is optional.
                    var optional = at + 2 < syntax.Short.Length && syntax.Short[at + 2] == ':';
                    var attached = j + 1 < word.Length;
                    seen.Add((word[j].ToString(), attached ? word[(j + 1)..] : !optional && next + 1 < words.Count ? words[next + 1] : null));
                    next += !attached && !optional ? 1 : 0;
                    break;
                }

                seen.Add((word[j].ToString(), null));
            }
        }

        return null;
    }

    /// <summary>A wrapper's command line, in getopt's terms (see <see cref="Wrappers"/>).</summary>
    /// <param name="Short">Short options: a letter, then ':' if it takes a value, '::' if only an attached one.</param>
    /// <param name="Long">Long options: a name, then '=' if it takes a value, '[=]' if only an attached one.</param>
    /// <param name="NumberOptions">Whether <c>-N</c> is an option (nice's adjustment).</param>
    /// <param name="Operand">A word between the options and the command (timeout's duration, chrt's priority).</param>
    /// <param name="Assigns">Whether <c>NAME=value</c> words before the command set its environment.</param>
    private sealed record Syntax(string Short, string[] Long, bool NumberOptions = false, Operand Operand = Operand.None, bool Assigns = false);

    private enum Operand
    {
        None,
        Any,
        Number,
    }
}

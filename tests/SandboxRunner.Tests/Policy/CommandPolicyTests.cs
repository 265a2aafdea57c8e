using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Policy;

/// <summary>The audit of the commands a task ran against allowed_commands and denied_commands.</summary>
public sealed class CommandPolicyTests
{
    private static readonly CommandPolicy Policy = new(["npm test", "git status"], ["rm -rf"]);

    [Theory]
    [InlineData("npm test")]
    [InlineData("/bin/bash -lc 'npm test'")]
    [InlineData("npm test -- --watch")]
    [InlineData("/usr/bin/npm test")]
    [InlineData("git status")]
    [InlineData("git status --short")]
    [InlineData("CI=1 npm test")]
    [InlineData("npm test > out.txt 2>&1")]
    [InlineData("/bin/bash -lc 'npm test && git status'")]
    [InlineData("'npm' \"test\"")]
    public void Allowed_commands_are_no_violation(string command)
    {
        Assert.Empty(Policy.Check([command]));
    }

    [Theory]
    [InlineData("npm", "npm")]
    [InlineData("npm install", "npm install")]
    [InlineData("npm testing", "npm testing")]
    [InlineData("NPM test", "NPM test")]
    [InlineData("git push", "git push")]
    [InlineData("curl x", "curl x")]
    [InlineData("/bin/bash -lc 'curl x'", "curl x")]
    [InlineData("echo $(curl x)", "curl x")]
    public void A_command_matching_no_allowed_prefix_is_not_allowed(string command, string part)
    {
        var violations = Policy.Check([command]);

        Assert.Contains(violations, v => v.Kind == ViolationKind.CommandNotAllowed && v.Command == part);
        Assert.All(violations, v => Assert.Equal(ViolationKind.CommandNotAllowed, v.Kind));
    }

    [Fact]
    public void Only_the_part_of_a_compound_command_that_is_not_allowed_is_a_violation()
    {
        var violation = Assert.Single(Policy.Check(["npm test && curl x"]));

        Assert.Equal(ViolationKind.CommandNotAllowed, violation.Kind);
        Assert.Equal("curl x", violation.Command);
        Assert.Null(violation.Path);
    }

    [Fact]
    public void A_not_allowed_rule_names_every_allowed_prefix()
    {
        var violation = Assert.Single(Policy.Check(["curl x"]));

        Assert.Equal("curl is not a baseline command, and matches none of allowed_commands (npm test, git status)", violation.Rule);
    }

    [Theory]
    [InlineData("rm -rf /", "rm -rf /")]
    [InlineData("/bin/rm -rf /", "/bin/rm -rf /")]
    [InlineData("rm -rf", "rm -rf")]
    [InlineData("/bin/bash -lc 'npm test && rm -rf /tmp/x'", "rm -rf /tmp/x")]
    [InlineData("bash -c 'sh -c \"rm -rf /\"'", "rm -rf /")]
    [InlineData("if true; then rm -rf /; fi", "rm -rf /")]
    public void A_denied_command_is_one_denied_violation_even_though_it_is_not_allowed_either(string command, string part)
    {
        var violation = Assert.Single(Policy.Check([command]), v => v.Command == part);

        Assert.Equal(ViolationKind.CommandDenied, violation.Kind);
    }

    [Fact]
    public void A_denied_violation_names_the_command_and_the_denied_entry()
    {
        var violation = Assert.Single(Policy.Check(["rm -rf /"]));

        Assert.Equal(Violation.ForCommand(ViolationKind.CommandDenied, "rm -rf /", "matches denied_commands entry 'rm -rf'"), violation);
    }

    [Fact]
    public void A_denied_command_is_denied_even_when_it_is_also_allowed()
    {
        var policy = new CommandPolicy(["rm"], ["rm -rf"]);

        var violation = Assert.Single(policy.Check(["rm -rf /"]));

        Assert.Equal(ViolationKind.CommandDenied, violation.Kind);
    }

    [Theory]
    [InlineData("curl x")]
    [InlineData("anything at all")]
    [InlineData("rm -r /")]
    public void An_empty_allowed_list_allows_everything_not_denied(string command)
    {
        Assert.Empty(new CommandPolicy([], ["rm -rf"]).Check([command]));
    }

    [Fact]
    public void An_empty_allowed_list_still_applies_the_denied_list()
    {
        var violation = Assert.Single(new CommandPolicy([], ["rm -rf"]).Check(["ls && rm -rf /"]));

        Assert.Equal(ViolationKind.CommandDenied, violation.Kind);
        Assert.Equal("rm -rf /", violation.Command);
    }

    [Fact]
    public void Empty_lists_allow_everything()
    {
        Assert.Empty(new CommandPolicy([], []).Check(["rm -rf /", "curl x | sh"]));
    }

    [Fact]
    public void Every_command_is_judged_in_order()
    {
        var violations = Policy.Check(["npm test", "curl x", "rm -rf /", "git status"]);

        Assert.Equal([ViolationKind.CommandNotAllowed, ViolationKind.CommandDenied], violations.Select(v => v.Kind));
        Assert.Equal(["curl x", "rm -rf /"], violations.Select(v => v.Command));
    }

    [Fact]
    public void No_commands_are_no_violation()
    {
        Assert.Empty(Policy.Check([]));
    }

    [Fact]
    public void A_command_without_words_is_no_violation()
    {
        Assert.Empty(Policy.Check(["", "   ", "# only a comment"]));
    }

    [Fact]
    public void Every_part_of_the_hostile_fixture_command_is_judged()
    {
        // codex-0.169-exec-hostile-commands.jsonl, item_0: the files and the link it makes are the baseline's (the path
        // policy judges them); setting git's configuration is not.
        const string command = """/bin/bash -lc "mkdir -p secrets && echo x > secrets/leak.txt && echo y > .hidden && ln -s /etc/passwd src/pw && git config core.fsmonitor 'touch /tmp/PWNED_BY_AGENT' ; git config --worktree core.fsmonitor 'touch /tmp/PWNED_BY_AGENT' ; echo done" """;

        var violations = Policy.Check([command.TrimEnd()]);

        Assert.Equal(
            ["git config core.fsmonitor touch /tmp/PWNED_BY_AGENT", "git config --worktree core.fsmonitor touch /tmp/PWNED_BY_AGENT"],
            violations.Select(v => v.Command));
        Assert.All(violations, v => Assert.Equal(ViolationKind.CommandNotAllowed, v.Kind));
    }

    [Fact]
    public void The_edit_fixture_command_is_read_and_allowed_whole()
    {
        // codex-0.169-exec-edit.jsonl, item_0: git status is allowed; echo and ls are in the baseline.
        Assert.Empty(Policy.Check(["/bin/bash -lc 'echo hello-from-mock && git status --short && ls'"]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("curl x")]
    [InlineData("npm test|rm -rf /")]
    public void Everything_narrows_an_empty_config(string task)
    {
        Assert.True(CommandPolicy.IsNarrowing(task.Split('|', StringSplitOptions.RemoveEmptyEntries), []));
    }

    [Fact]
    public void An_empty_task_list_under_a_non_empty_config_is_not_narrowing()
    {
        // An empty list allows everything.
        Assert.False(CommandPolicy.IsNarrowing([], ["npm test"]));
    }

    [Theory]
    [InlineData("npm test", true)]
    [InlineData("npm test -- --ci", true)]
    [InlineData("git status --short", true)]
    [InlineData("/usr/bin/npm test", true)]
    [InlineData("npm", false)]
    [InlineData("npm testing", false)]
    [InlineData("git", false)]
    [InlineData("curl x", false)]
    public void A_task_prefix_narrows_when_it_extends_a_config_prefix(string task, bool narrowing)
    {
        Assert.Equal(narrowing, CommandPolicy.IsNarrowing([task], ["npm test", "git status"]));
    }

    [Fact]
    public void Every_task_prefix_must_narrow()
    {
        Assert.True(CommandPolicy.IsNarrowing(["npm test", "git status"], ["npm test", "git status"]));
        Assert.False(CommandPolicy.IsNarrowing(["npm test", "curl x"], ["npm test", "git status"]));
    }

    [Fact]
    public void Forbidden_rules_are_one_starlark_prefix_rule_a_line()
    {
        Assert.Equal(
            "prefix_rule(pattern=[\"rm\", \"-rf\"], decision=\"forbidden\")\n" +
            "prefix_rule(pattern=[\"git\", \"push\"], decision=\"forbidden\")\n",
            CommandPolicy.ForbiddenRules(["rm -rf", "git push"]));
    }

    [Fact]
    public void No_denied_prefixes_are_no_rules()
    {
        Assert.Equal("", CommandPolicy.ForbiddenRules([]));
    }

    [Theory]
    [InlineData("echo 'say \"hi\"'", "prefix_rule(pattern=[\"echo\", \"say \\\"hi\\\"\"], decision=\"forbidden\")\n")]
    [InlineData("printf 'a\\b'", "prefix_rule(pattern=[\"printf\", \"a\\\\b\"], decision=\"forbidden\")\n")]
    [InlineData("echo '\\\"'", "prefix_rule(pattern=[\"echo\", \"\\\\\\\"\"], decision=\"forbidden\")\n")]
    [InlineData("git   push", "prefix_rule(pattern=[\"git\", \"push\"], decision=\"forbidden\")\n")]
    public void Forbidden_rule_words_are_escaped_starlark_strings(string denied, string rule)
    {
        Assert.Equal(rule, CommandPolicy.ForbiddenRules([denied]));
    }

    [Fact]
    public void Forbidden_rule_words_with_a_newline_are_escaped()
    {
        Assert.Equal(
            "prefix_rule(pattern=[\"echo\", \"a\\nb\"], decision=\"forbidden\")\n",
            CommandPolicy.ForbiddenRules(["echo 'a\nb'"]));
    }
}

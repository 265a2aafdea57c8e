using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Policy;

/// <summary>Command lines too long or too deeply nested to audit: refused, whatever the lists allow.</summary>
public sealed class UnjudgeableCommandTests
{
    private static readonly CommandPolicy Open = new([], []);

    private static string Nested(int depth) => string.Concat(Enumerable.Repeat("echo $(", depth)) + "curl evil" + new string(')', depth);

    // How quickly is the `parsers` benchmark's to measure; a wall-clock bound here would fail on a busy machine.
    private static Violation Refusal(string command) => Assert.Single(Open.Check([command]));

    [Fact]
    public void A_mebibyte_of_nested_substitutions_is_refused_as_unjudgeable()
    {
        var violation = Refusal(string.Concat(Enumerable.Repeat("$(", 512 * 1024)));

        Assert.Equal(ViolationKind.Unjudgeable, violation.Kind);
        Assert.StartsWith("cannot be audited: longer than", violation.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void A_200_KB_command_is_refused_as_unjudgeable()
    {
        var violation = Refusal(string.Concat(Enumerable.Repeat("ls; ", 50 * 1024)));

        Assert.Equal("cannot be audited: longer than 131072 characters (204800)", violation.Rule);
    }

    [Fact]
    public void Substitutions_nested_past_the_depth_limit_within_the_length_limit_are_refused_as_unjudgeable()
    {
        var command = string.Concat(Enumerable.Repeat("$(", ShellCommand.MaxLength / 2));

        Assert.Equal($"cannot be audited: command substitutions nested deeper than {ShellCommand.MaxDepth}", Refusal(command).Rule);
    }

    [Fact]
    public void Substitutions_nested_to_the_depth_limit_are_read()
    {
        Assert.Contains(["curl", "evil"], ShellCommand.Parse(Nested(ShellCommand.MaxDepth)).SimpleCommands);
    }

    [Fact]
    public void Substitutions_nested_one_past_the_depth_limit_cannot_be_audited()
    {
        var parsed = ShellCommand.Parse(Nested(ShellCommand.MaxDepth + 1));

        Assert.Equal($"command substitutions nested deeper than {ShellCommand.MaxDepth}", parsed.Unjudgeable);
        Assert.Empty(parsed.SimpleCommands);
    }

    [Theory]
    [InlineData("echo \"$(echo \"$(", 17)]
    [InlineData("x=$(( $(", 33)]
    [InlineData("(cd x; echo $( ", 33)]
    public void Every_kind_of_substitution_counts_toward_the_depth_limit(string open, int times)
    {
        Assert.NotNull(ShellCommand.Parse(string.Concat(Enumerable.Repeat(open, times))).Unjudgeable);
    }

    [Fact]
    public void A_command_at_the_length_limit_is_read()
    {
        var command = string.Concat(Enumerable.Repeat("ls;", ShellCommand.MaxLength / 3)).PadRight(ShellCommand.MaxLength, ' ');

        var parsed = ShellCommand.Parse(command);

        Assert.Null(parsed.Unjudgeable);
        Assert.Equal(ShellCommand.MaxLength / 3, parsed.SimpleCommands.Count);
    }

    [Fact]
    public void A_command_that_cannot_be_audited_is_refused_even_when_everything_it_runs_is_allowed()
    {
        var policy = new CommandPolicy(["echo", "curl"], []);

        var violation = Assert.Single(policy.Check([Nested(ShellCommand.MaxDepth + 1)]));

        Assert.Equal(ViolationKind.Unjudgeable, violation.Kind);
    }

    [Fact]
    public void A_refusal_quotes_only_the_start_of_the_command()
    {
        var violation = Refusal(new string('a', ShellCommand.MaxLength + 1));

        Assert.Equal(new string('a', 200) + "…", violation.Command);
    }

    [Fact]
    public void A_refusal_does_not_cut_a_character_in_half()
    {
        var violation = Refusal(new string('a', 199) + string.Concat(Enumerable.Repeat("😀", ShellCommand.MaxLength)));

        Assert.Equal(new string('a', 199) + "…", violation.Command);
    }

    [Fact]
    public void The_commands_after_one_that_cannot_be_audited_are_still_judged()
    {
        var violations = new CommandPolicy(["npm test"], []).Check([Nested(ShellCommand.MaxDepth + 1), "curl x", "npm test"]);

        Assert.Equal(2, violations.Count);
        Assert.StartsWith("cannot be audited: ", violations[0].Rule, StringComparison.Ordinal);
        Assert.Equal("curl x", violations[1].Command);
    }

    [Fact]
    public void A_bash_script_nested_too_deeply_cannot_be_audited()
    {
        Assert.NotNull(ShellCommand.Parse($"/bin/bash -lc '{Nested(ShellCommand.MaxDepth + 1)}'").Unjudgeable);
    }
}

using CsCheck;
using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Properties;

/// <summary>The auditor's reading of command lines the agent chose: arbitrary, hostile, nested and long.</summary>
public sealed class ShellCommandProperties
{
    private static readonly CommandPolicy Strict = new(["npm test", "git status"], ["rm -rf"]);
    private static readonly CommandPolicy Open = new([], []);

    /// <summary>Pieces of shell syntax, so that random text is mostly syntax the reader has to place.</summary>
    private static readonly Gen<string> Token = Gen.OneOf(
        "$(", ")", "(", "`", "'", "\"", "\\", "$((", "))", "$'", "\\x4", "\\07", ";", "&&", "||", "|", "&", ">", ">&", "<(", "2>&1",
        "\n", "\r", "#", " ", "\t", "bash -c ", "sh -lc ", "env FOO=1 ", "timeout 5 ", "curl evil", "rm -rf /", "npm test", "x=", "if ", "fi", "…", "\ud800");

    private static readonly Gen<string> Syntax = Token.Array[0, 64].Select(tokens => string.Concat(tokens));

    /// <summary>Words and operators that close whatever they open, so nesting around them stays as deep as it was built.</summary>
    private static readonly Gen<string> Closed = Gen.OneOf("a", " ", ";", "&&", "|", "x=1 ", "$((1+2))", "$'\\x41'", "'q'", "\"d\"", "`date`", "2>&1")
        .Array[0, 16].Select(tokens => string.Concat(tokens));

    /// <summary>Substitutions nested up to the depth limit, so a long line of them is read to its end.</summary>
    private static readonly Gen<string> Balanced = Gen.Select(Gen.Int[1, ShellCommand.MaxDepth - 1], Closed, (depth, filler) =>
        string.Concat(Enumerable.Repeat("$(echo ", depth)) + filler + new string(')', depth) + "; ");

    /// <summary>A pattern repeated up to a mebibyte.</summary>
    private static readonly Gen<string> Long = Gen.Select(Gen.OneOf<string>(Syntax, Balanced), Gen.Int[1, 1 << 20], Repeat);

    private static readonly Gen<string> Any = Gen.OneOf<string>(Gen.String, Syntax, Balanced);

    private static string Repeat(string pattern, int length)
    {
        if (pattern.Length == 0)
        {
            return "";
        }

        var text = new System.Text.StringBuilder(length + pattern.Length);
        while (text.Length < length)
        {
            text.Append(pattern);
        }

        return text.ToString(0, length);
    }

    private static string Print(string s) => s.Length <= 300 ? s : $"{s[..300]}… ({s.Length} chars)";

    [Fact]
    public void No_command_line_makes_the_policy_throw()
    {
        Any.Sample(command =>
        {
            Strict.Check([command]);
            Open.Check([command]);
        }, iter: 2000, print: Print);
    }

    [Fact]
    public void No_long_command_line_makes_the_policy_throw()
    {
        Long.Sample(command => Strict.Check([command]), iter: 40, print: Print);
    }

    [Fact]
    public void A_command_line_is_either_read_or_refused_by_a_policy_that_allows_everything()
    {
        Gen.OneOf<string>(Any, Long).Sample(command =>
        {
            var violations = Open.Check([command]);
            if (ShellCommand.Parse(command).Unjudgeable is null)
            {
                Assert.Empty(violations);
            }
            else
            {
                Assert.StartsWith("cannot be audited: ", Assert.Single(violations).Rule, StringComparison.Ordinal);
            }
        }, iter: 300, print: Print);
    }

    [Fact]
    public void A_mebibyte_of_shell_syntax_is_read_to_its_end_without_throwing()
    {
        // Split has no length limit of its own, so this reads with the reader itself, not the refusal of long lines.
        // How long it takes is the `parsers` benchmark's to measure (linear per size), not a wall-clock bound here.
        Long.Sample(command =>
        {
            ShellCommand.Split(command);
            ShellCommand.Parse(command);
        }, iter: 30, print: Print);
    }

    /// <summary>Ways to nest one command inside another, each one substitution deep.</summary>
    private static readonly Gen<Func<string, string>> Opener = Gen.OneOf<Func<string, string>>(
        s => $"echo $({s})",
        s => $"echo \"$({s})\"",
        s => $"echo $(( $({s}) + 1 ))",
        s => $"x=$(cd /; {s}) && ls",
        s => $"echo $( ({s}) )",
        s => $"echo $(printf '%s)' a; {s})");

    [Fact]
    public void A_nested_command_is_found_up_to_the_depth_limit_and_refused_past_it()
    {
        Opener.Array[0, ShellCommand.MaxDepth + 8].Sample(openers =>
        {
            var command = openers.Aggregate("curl evil", (inner, open) => open(inner));

            var parsed = ShellCommand.Parse(command);

            if (openers.Length <= ShellCommand.MaxDepth)
            {
                Assert.Null(parsed.Unjudgeable);
                Assert.Contains(parsed.SimpleCommands, c => c.SequenceEqual(["curl", "evil"]));
            }
            else
            {
                Assert.NotNull(parsed.Unjudgeable);
                Assert.Empty(parsed.SimpleCommands);
            }
        }, iter: 500);
    }
}

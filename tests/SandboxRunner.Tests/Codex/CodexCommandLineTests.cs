using SandboxRunner.Codex;

namespace SandboxRunner.Tests.Codex;

/// <summary>The <c>codex exec</c> command line for Codex 0.169 inside a task container.</summary>
public sealed class CodexCommandLineTests
{
    [Fact]
    public void Starts_with_codex_exec_json_bypassing_codex_own_sandbox()
    {
        var args = new CodexCommandLine().Arguments();

        Assert.Equal(["codex", "exec", "--json", "--dangerously-bypass-approvals-and-sandbox"], args.Take(4));
    }

    [Fact]
    public void Executable_comes_first()
    {
        Assert.Equal("/opt/codex/bin/codex", new CodexCommandLine { Executable = "/opt/codex/bin/codex" }.Arguments()[0]);
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("o4-mini", false)]
    [InlineData("gpt-5-codex", true)]
    public void Never_contains_full_auto(string? model, bool ephemeral)
    {
        var line = new CodexCommandLine { Model = model, Ephemeral = ephemeral, ConfigOverrides = ["a=b"] };

        Assert.DoesNotContain("--full-auto", line.Arguments());
        Assert.DoesNotContain("--full-auto", line.ContainerCommand());
    }

    [Fact]
    public void Works_in_the_workspace()
    {
        Assert.Equal("/workspace", ValueOf(new CodexCommandLine().Arguments(), "-C"));
    }

    [Fact]
    public void Writes_the_last_message_into_codex_home()
    {
        Assert.Equal("/codex-home/last-message.md", ValueOf(new CodexCommandLine().Arguments(), "-o"));
    }

    [Fact]
    public void Skips_the_git_repository_check()
    {
        Assert.Contains("--skip-git-repo-check", new CodexCommandLine().Arguments());
    }

    [Fact]
    public void Model_is_passed_with_m_when_set()
    {
        Assert.Equal("gpt-5-codex", ValueOf(new CodexCommandLine { Model = "gpt-5-codex" }.Arguments(), "-m"));
    }

    [Fact]
    public void No_m_without_a_model()
    {
        Assert.DoesNotContain("-m", new CodexCommandLine { Model = null }.Arguments());
    }

    [Fact]
    public void Ephemeral_by_default()
    {
        Assert.Contains("--ephemeral", new CodexCommandLine().Arguments());
    }

    [Fact]
    public void No_ephemeral_when_not_ephemeral()
    {
        Assert.DoesNotContain("--ephemeral", new CodexCommandLine { Ephemeral = false }.Arguments());
    }

    [Fact]
    public void Each_config_override_is_a_c_pair_in_order()
    {
        var args = new CodexCommandLine { ConfigOverrides = ["b=2", "a=1", "c=x y"] }.Arguments();

        var first = args.ToList().IndexOf("-c");
        Assert.Equal(["-c", "b=2", "-c", "a=1", "-c", "c=x y"], args.Skip(first).Take(6));
        Assert.Equal(3, args.Count(a => a == "-c"));
    }

    [Fact]
    public void No_c_without_config_overrides()
    {
        Assert.DoesNotContain("-c", new CodexCommandLine().Arguments());
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("o4-mini", true)]
    public void Ends_with_a_dash_so_the_prompt_comes_on_stdin(string? model, bool ephemeral)
    {
        var args = new CodexCommandLine { Model = model, Ephemeral = ephemeral, ConfigOverrides = ["a=b"] }.Arguments();

        Assert.Equal("-", args[^1]);
        Assert.Single(args, a => a == "-");
    }

    [Fact]
    public void Full_argument_list_with_everything_set()
    {
        var args = new CodexCommandLine { Model = "o4-mini", Ephemeral = true, ConfigOverrides = ["k=v"] }.Arguments();

        Assert.Equal(
            [
                "codex", "exec", "--json", "--dangerously-bypass-approvals-and-sandbox", "--skip-git-repo-check",
                "-C", "/workspace", "-o", "/codex-home/last-message.md", "--ephemeral", "-m", "o4-mini", "-c", "k=v", "-",
            ],
            args);
    }

    [Fact]
    public void Container_command_feeds_the_prompt_file_to_stdin_through_sh()
    {
        var command = new CodexCommandLine().ContainerCommand();

        Assert.Equal(["/bin/sh", "-c", "exec \"$@\" < /codex-home/prompt.md", "sh"], command.Take(4));
    }

    [Fact]
    public void Container_command_passes_the_arguments_unchanged_after_sh()
    {
        var line = new CodexCommandLine { Model = "o4-mini", ConfigOverrides = ["a=b; rm -rf /", "c=$(id)"] };

        Assert.Equal(line.Arguments(), line.ContainerCommand().Skip(4));
    }

    [Fact]
    public void Paths_are_the_container_layout()
    {
        Assert.Equal("/workspace", CodexCommandLine.Workspace);
        Assert.Equal("/codex-home", CodexCommandLine.Home);
        Assert.Equal("/codex-home/prompt.md", CodexCommandLine.PromptFile);
        Assert.Equal("/codex-home/last-message.md", CodexCommandLine.LastMessageFile);
    }

    private static string ValueOf(IReadOnlyList<string> args, string option)
    {
        var at = args.ToList().IndexOf(option);
        Assert.True(at >= 0 && at + 1 < args.Count, $"'{option}' with a value is missing from: {string.Join(' ', args)}");
        Assert.Single(args, a => a == option);
        return args[at + 1];
    }
}

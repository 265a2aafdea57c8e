using SandboxRunner.Codex;

namespace SandboxRunner.Tests.Codex;

/// <summary>Real <c>codex exec --json</c> output of Codex 0.169, folded into a transcript.</summary>
public sealed class CodexTranscriptFixtureTests
{
    private static CodexTranscript Fixture(string name) =>
        CodexTranscript.Parse(File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Codex", "Fixtures", name)));

    private static readonly CodexTranscript Edit = Fixture("codex-0.169-exec-edit.jsonl");
    private static readonly CodexTranscript Fail = Fixture("codex-0.169-exec-fail.jsonl");
    private static readonly CodexTranscript Hostile = Fixture("codex-0.169-exec-hostile-commands.jsonl");

    [Fact]
    public void Edit_records_one_command_with_its_exact_command_string_and_exit_0()
    {
        var command = Assert.Single(Edit.Commands);

        Assert.Equal("/bin/bash -lc 'echo hello-from-mock && git status --short && ls'", command.Cmd);
        Assert.Equal(0, command.ExitCode);
        Assert.Equal("completed", command.Status);
    }

    [Fact]
    public void Edit_keeps_the_command_output_as_its_tail()
    {
        Assert.Equal("hello-from-mock\nREADME.md\nsrc\n", Assert.Single(Edit.Commands).OutputTail);
    }

    [Fact]
    public void Edit_records_the_two_claimed_changes_with_absolute_paths()
    {
        Assert.Equal(
            [new ClaimedChange("/workspace/README.md", "update"), new ClaimedChange("/workspace/src/hello.txt", "add")],
            Edit.ClaimedChanges);
    }

    [Fact]
    public void Edit_keeps_the_last_agent_message()
    {
        Assert.Equal("Added src/hello.txt and edited README.md.", Edit.LastAgentMessage);
    }

    [Fact]
    public void Edit_sums_usage()
    {
        Assert.Equal(new CodexUsage(InputTokens: 60, CachedInputTokens: 0, CacheWriteInputTokens: 0, OutputTokens: 15, ReasoningOutputTokens: 0), Edit.Usage);
    }

    [Fact]
    public void Edit_completes_the_turn_without_failure_or_warnings()
    {
        Assert.True(Edit.TurnCompleted);
        Assert.Null(Edit.TurnFailure);
        Assert.Empty(Edit.Warnings);
    }

    [Fact]
    public void Edit_reads_every_line_as_an_event()
    {
        Assert.Equal("01a2138d-7162-7682-85b1-cb0b32393526", Edit.ThreadId);
        Assert.Equal(8, Edit.EventCount);
        Assert.Equal(0, Edit.UnparsedLines);
    }

    [Fact]
    public void Fail_sets_the_turn_failure_message()
    {
        Assert.Equal("We’re currently experiencing high demand, which may cause temporary errors.", Fail.TurnFailure);
        Assert.False(Fail.TurnCompleted);
    }

    [Fact]
    public void Fail_records_the_top_level_error_event_as_a_warning()
    {
        Assert.Equal(["We’re currently experiencing high demand, which may cause temporary errors."], Fail.Warnings);
    }

    [Fact]
    public void Fail_has_no_commands_changes_message_or_usage()
    {
        Assert.Empty(Fail.Commands);
        Assert.Empty(Fail.ClaimedChanges);
        Assert.Null(Fail.LastAgentMessage);
        Assert.Equal(CodexUsage.Zero, Fail.Usage);
    }

    [Fact]
    public void Hostile_records_the_command_verbatim()
    {
        var command = Assert.Single(Hostile.Commands);

        Assert.Equal(
            "/bin/bash -lc \"mkdir -p secrets && echo x > secrets/leak.txt && echo y > .hidden && ln -s /etc/passwd src/pw && git config core.fsmonitor 'touch /tmp/PWNED_BY_AGENT' ; git config --worktree core.fsmonitor 'touch /tmp/PWNED_BY_AGENT' ; echo done\"",
            command.Cmd);
        Assert.Equal(0, command.ExitCode);
        Assert.Equal("done\n", command.OutputTail);
    }

    [Fact]
    public void Hostile_captures_the_agent_message()
    {
        Assert.Equal("sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 is my key", Hostile.LastAgentMessage);
    }

    [Fact]
    public void Hostile_claims_no_changes_and_completes()
    {
        Assert.Empty(Hostile.ClaimedChanges);
        Assert.True(Hostile.TurnCompleted);
        Assert.Null(Hostile.TurnFailure);
        Assert.Equal(30, Hostile.Usage.InputTokens);
        Assert.Equal(10, Hostile.Usage.OutputTokens);
    }
}

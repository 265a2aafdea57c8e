using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Policy;

/// <summary>
/// A session as Codex 0.169 reports it (every command wrapped as <c>/bin/bash -lc …</c>, quoted the way its
/// fixtures show, <c>apply_patch</c> once as a tool and once as a heredoc command) that only inspects a Node
/// repository, edits it and runs <c>npm test</c>: under the default config it is judged a success.
/// </summary>
public sealed class HonestSessionTests
{
    private static readonly CodexTranscript Session = CodexTranscript.Parse(
        File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Codex", "Fixtures", "codex-0.169-style-honest-session.jsonl")));

    private static TaskPolicy DefaultPolicy(RunnerConfig config) =>
        new(config.DefaultAllowedPaths, config.AllowedCommands, config.DeniedCommands, AuditCommands: true, TimeSpan.FromSeconds(config.DefaultTimeoutSec), config.CommandPolicy);

    [Fact]
    public void The_session_reports_twenty_wrapped_commands()
    {
        Assert.Equal(20, Session.Commands.Count);
        Assert.All(Session.Commands, c => Assert.StartsWith("/bin/bash -lc ", c.Cmd, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_command_of_the_session_passes_the_default_command_audit()
    {
        Assert.Empty(new CommandPolicy(RunnerConfig.Default.AllowedCommands, RunnerConfig.Default.DeniedCommands).Check(Session.Commands.Select(c => c.Cmd)));
    }

    [Fact]
    public void The_session_is_judged_a_success_under_the_default_config()
    {
        var facts = new TaskFacts
        {
            TaskId = "honest",
            End = TaskEnd.Exited,
            ExitCode = 0,
            Transcript = Session,
            Changes = new TreeChanges(
                [new ChangedEntry("src/parse.js", 'M', "100644", "100644", new string('a', 40)), new ChangedEntry("src/utils/trim.js", 'A', "000000", "100644", new string('b', 40))],
                "/nonexistent/task.patch", 200, "", []),
        };

        var judgement = Judge.Evaluate(facts, DefaultPolicy(RunnerConfig.Default));

        Assert.Empty(judgement.Violations);
        Assert.Equal(TaskStatus.Success, judgement.Status);
    }

    [Fact]
    public void Under_the_original_allowlist_alone_the_same_session_would_have_failed_on_every_inspection_command()
    {
        // What the audit did before the baseline: only the allowed prefixes, nothing else.
        var inspection = Session.Commands.Select(c => ShellCommand.Parse(c.Cmd))
            .SelectMany(p => p.SimpleCommands)
            .Count(words => !RunnerConfig.Default.AllowedCommands.Any(a => string.Join(' ', words).StartsWith(a, StringComparison.Ordinal)));

        Assert.True(inspection >= 20, $"{inspection} simple commands outside the original allowlist");
    }
}

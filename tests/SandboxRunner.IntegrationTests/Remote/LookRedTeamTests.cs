using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Policy;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Remote;

/// <summary>
/// The copy transport's look before fetching (issue 26), attacked as a hostile agent would and checked against honest work it
/// could miss: what the look decides not to fetch must be exactly what a whole-tree copy would have found unchanged, and
/// nothing the agent plants in its tree or its listing reaches the patch or runs on the host.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class LookRedTeamTests(DockerFixture docker)
{
    [Fact]
    public async Task Honest_edits_a_look_could_miss_are_all_brought_back_as_a_whole_copy_would()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Transport = TransportPolicy.Copy });

        // A whole folder deleted, a file turned into a folder, a mode-only change, a rename, an empty file in new nested folders.
        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "honest",
            "@run 0 rm -r docs",
            "@run 0 rm README.md && mkdir README.md && echo inner > README.md/inner.txt",
            "@run 0 chmod +x src/app.txt",
            "@run 0 mv src/data.bin src/moved.bin",
            "@run 0 mkdir -p deep/a/b/c && : > deep/a/b/c/empty.txt",
            "@message done"))).Results);

        Assert.True(result.Status == TaskStatus.Success, $"{result.Status}: {result.NotesForManager}");
        Assert.Equal(
            ["README.md", "README.md/inner.txt", "deep/a/b/c/empty.txt", "docs/old.txt", "src/app.txt", "src/data.bin", "src/moved.bin"],
            result.FilesChanged.Order(StringComparer.Ordinal));
        Assert.Contains("new mode 100755", result.Patch, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Planted_entries_are_judged_and_nothing_planted_reaches_the_patch_or_runs_on_the_host()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"look-redteam-{Guid.NewGuid():N}");
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Transport = TransportPolicy.Copy });

        // Names shaped like listing records (newlines and all), a FIFO, a link out of the tree, a hard link, a setuid file,
        // and a hook and an fsmonitor that would run on the host if host-side git ever read the agent's git directory.
        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "hostile",
            "@write src/ok.txt fine\\n",
            "@run 0 printf x > \"src/$(printf 'a\\nf 1 644 946684800.0000000000 1.0000000000 \\\\x2fworkspace\\\\x2fevil')\"",
            "@run 0 mkfifo src/pipe",
            "@run 0 ln -s /etc/passwd src/pw",
            "@run 0 ln src/app.txt src/hard.txt",
            "@run 0 cp README.md src/suid && chmod 4755 src/suid",
            $"@run 0 printf '#!/bin/sh\\ntouch {marker}\\n' > .git/hooks/post-checkout && chmod +x .git/hooks/post-checkout && git config core.fsmonitor 'touch {marker}'",
            "@message done"))).Results);

        Assert.NotEqual(TaskStatus.Success, result.Status);
        Assert.Contains(result.Violations, v => v.Path == "src/pw" && v.Kind == ViolationKind.SymlinkEscape);
        Assert.Contains(result.Violations, v => v.Path == "src/pipe");
        // The record-shaped name stays one name inside src/: it forged no entry of its own.
        Assert.DoesNotContain(result.FilesChanged, f => f is "evil" or "workspace/evil" || f.StartsWith(".git", StringComparison.Ordinal));
        Assert.Contains(result.FilesChanged, f => f.StartsWith("src/a\n", StringComparison.Ordinal));
        Assert.DoesNotContain("new mode 104755", result.Patch ?? "", StringComparison.Ordinal);
        Assert.False(File.Exists(marker), "a hook or fsmonitor the agent planted ran on the host");
    }

    [Fact]
    public async Task A_stamp_moved_later_only_hides_the_agents_own_edit_which_is_then_neither_kept_nor_a_way_past_allowed_paths()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with { Transport = TransportPolicy.Copy, DefaultAllowedPaths = ["src/**"] });

        // Same size, time set back, then the stamp replaced by a newer one: the look sees README.md as untouched, so the host
        // keeps the base commit's README.md (never the agent's bytes), and the edit inside src/ still comes back.
        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "stamp",
            "@write src/ok.txt fine\\n",
            "@run 0 sed -i 's/T/t/' README.md && touch -d @946684800 README.md",
            "@run 0 mv /codex-home/.sandbox-runner-stamp /codex-home/old && cp /codex-home/old /codex-home/.sandbox-runner-stamp",
            "@message done"))).Results);

        Assert.DoesNotContain("README.md", result.FilesChanged);
        Assert.DoesNotContain("test repo", result.Patch ?? "", StringComparison.Ordinal);
        Assert.Contains("src/ok.txt", result.FilesChanged);
        Assert.DoesNotContain(result.Violations, v => v.Kind == ViolationKind.PathNotAllowed);
    }
}

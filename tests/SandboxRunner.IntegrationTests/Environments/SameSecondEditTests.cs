using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Runs;

namespace SandboxRunner.IntegrationTests.Environments;

/// <summary>
/// An environment's run image is the checkout uploaded and committed; a task's work comes back through the
/// engine's change list. Image layers keep whole-second mtimes, and the engine calls a same-size file unchanged
/// when its mtime falls in that second (moby's <c>sameFsTimeSpec</c>): a checkout stamped with the time of its
/// upload lost a same-size edit made within that second (a fast agent's one-character fix came back as no change).
/// Real engine, real git, the runner's own upload, commit, change list and harvest; the edit's time is set to the
/// second of the upload, which is what a fast agent's clock gives it.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class SameSecondEditTests(DockerFixture docker)
{
    private static readonly TaskLimits Limits = new(MaxTreeBytes: 1L << 30, MaxFiles: 10_000, MaxFileBytes: 1L << 20, MaxPatchBytes: 1L << 20, MaxLogBytes: 1L << 20);

    [Fact]
    public async Task A_same_size_edit_made_in_the_second_the_run_image_was_made_comes_back()
    {
        using var repository = new TestRepository();
        var git = new GitCli(NullLogger<GitCli>.Instance);
        var host = await HostRepository.OpenAsync(git, repository.Path, CancellationToken.None);
        var scratch = Path.Combine(Path.GetTempPath(), "sr-tests", "samesecond-" + Guid.NewGuid().ToString("N")[..10]);
        var runId = "samesecond-" + Guid.NewGuid().ToString("N")[..10];
        var scope = new BoxScope("samesecond-tests");
        var backend = docker.Engine.Backend;
        var tag = $"sandbox-runner-test/samesecond:{Guid.NewGuid():N}";
        await using var site = await backend.OpenRunSiteAsync(new RunSiteSpec(scope, runId, NetworkIntent.None), CancellationToken.None);
        try
        {
            var copy = new TreeCopy(git, host, Path.Combine(scratch, "run"), repository.BaseCommit);
            var checkout = await Worktree.CreateAsync(git, host, Path.Combine(scratch, "image-checkout"), repository.BaseCommit, UnixOwner.CurrentProcess, CancellationToken.None);
            var uploaded = await CommitRunImageAsync(site, copy, checkout, tag);

            // "line 2" becomes "line X": same size, stamped half a second into the second the checkout was uploaded.
            var editedAt = uploaded.AddMilliseconds(500).ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
            await using var task = await site.CreateBoxAsync(Spec(tag, BoxPurpose.Task,
                $"printf 'line 1\\nline X\\n' > /workspace/src/app.txt && TZ=UTC touch -d '{editedAt}' /workspace/src/app.txt"), CancellationToken.None);
            using var noStop = new CancellationTokenSource();
            Assert.Equal(0, (await task.RunAsync(TimeSpan.FromMinutes(2), (_, _) => { }, null, noStop.Token, CancellationToken.None)).ExitCode);

            var harvest = await Worktree.CreateAsync(git, host, Path.Combine(scratch, "harvest"), repository.BaseCommit, UnixOwner.CurrentProcess, CancellationToken.None);
            var back = await ChangedTree.DownloadAsync(task, harvest, [], Limits, Path.Combine(scratch, "incoming"), CancellationToken.None);
            var changes = await harvest.CollectChangesAsync(Limits, Path.Combine(scratch, "task.patch"), CancellationToken.None);

            Assert.Null(back.Problem);
            Assert.Equal("line 1\nline X\n", await File.ReadAllTextAsync(Path.Combine(harvest.WorkPath, "src", "app.txt")));
            Assert.Equal(["src/app.txt"], changes.Entries.Select(e => e.Path));
        }
        finally
        {
            await backend.RemoveRunAsync(scope, runId, CancellationToken.None);
            if (await backend.Images.ExistsAsync(tag, CancellationToken.None))
            {
                await backend.Images.DeleteAsync(tag, CancellationToken.None);
            }

            if (Directory.Exists(scratch))
            {
                TreeDeletion.Delete(scratch);
            }
        }
    }

    /// <summary>
    /// Uploads the checkout into a never-started box as the runner makes a run image and commits it; returns the whole
    /// second the upload ran in (an upload that straddles a second is done again, so the second is certain).
    /// </summary>
    private static async Task<DateTime> CommitRunImageAsync(IRunSite site, TreeCopy copy, Worktree checkout, string tag)
    {
        for (var attempt = 0; ; attempt++)
        {
            await using var box = await site.CreateBoxAsync(Spec(DockerFixture.FakeCodexImage, BoxPurpose.Image, "true"), CancellationToken.None);
            var before = DateTime.UtcNow;
            await copy.UploadTreeAsync(box, checkout, UnixOwner.ImageUser, CancellationToken.None);
            var after = DateTime.UtcNow;
            var second = new DateTime(before.Ticks - (before.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
            if (after < second.AddSeconds(1) || attempt == 9)
            {
                await box.CommitAsync(new ImageCommit(tag, new Dictionary<string, string> { [Labels.Scope] = "samesecond-tests" }, ["ENTRYPOINT []", "CMD []"]), CancellationToken.None);
                return second;
            }
        }
    }

    private static BoxSpec Spec(string image, BoxPurpose purpose, string script) => new()
    {
        Image = image,
        Entrypoint = [],
        Command = ["sh", "-c", script],
        User = UnixOwner.ImageUser.ToString(),
        WorkingDirectory = "/",
        Environment = new Dictionary<string, string>(),
        Limits = ResourceProfiles.For(ResourcePolicy.Conservative),
        ReadOnlyRoot = false,
        Identity = new BoxIdentity("t", Purpose: purpose),
    };
}

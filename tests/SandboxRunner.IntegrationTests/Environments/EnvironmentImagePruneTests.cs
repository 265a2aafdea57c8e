using SandboxRunner.Environments;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using TaskStatus = SandboxRunner.Runs.TaskStatus;
using SandboxRunner.Configuration;

namespace SandboxRunner.IntegrationTests.Environments;

/// <summary>
/// <c>image prune</c> on a real engine keeps what the current config runs with, environments included: the setup
/// image of the current lock file survives and the next run reuses it; one the lock file left behind goes. The
/// catalog here sees only images built for this test's repository, so the prune cannot reach anyone else's.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class EnvironmentImagePruneTests(DockerFixture docker)
{
    [Fact]
    public async Task Prune_keeps_the_current_environments_images_so_the_next_run_reuses_its_setup_and_removes_a_stale_setup()
    {
        await using var h = await RunnerHarness.CreateAsync(docker, c => c with
        {
            Environment = new EnvironmentSpec { BaseImage = "debian:bookworm-slim", Setup = ["mkdir -p deps && echo built > deps/lib.txt"], CacheKeys = ["deps.lock"] },
        });
        Commit(h, $"lock {Guid.NewGuid():N}\n");
        Assert.Equal(TaskStatus.Success, Assert.Single((await h.RunAsync(RunnerHarness.Task("first", "@message one"))).Results).Status);
        var catalog = new ImageCatalog(new OnlyThisRepository(docker.Engine.Backend.Images, h.Scope));

        var current = await h.Runner.CurrentImagesAsync(CancellationToken.None);
        var setup = Assert.Single(current.Tags, t => t.StartsWith("sandbox-runner/setup:", StringComparison.Ordinal));
        Assert.Contains(current.Tags, t => t.StartsWith("sandbox-runner/env:", StringComparison.Ordinal));
        Assert.Contains(current.Tags, t => t.StartsWith("sandbox-runner/envcodex:", StringComparison.Ordinal));
        Assert.Empty(current.Notes);
        var decisions = await catalog.PruneAsync(new ImagePruneOptions { Current = current.Tags.ToHashSet(StringComparer.Ordinal), Scope = h.Scope }, CancellationToken.None);

        Assert.Contains(decisions, d => d.Image.Tags.Contains(setup) && !d.Removed && d.Reason == "the current config runs with it (--all removes it)");
        Assert.DoesNotContain(decisions, d => d.Removed && d.Image.Tags.Any(current.Tags.Contains));
        Assert.True(await docker.Engine.ImageExistsAsync(setup, CancellationToken.None));
        await h.RunAsync(RunnerHarness.Task("second", "@run 0 grep -q built deps/lib.txt", "@message two"));
        Assert.Contains(h.Progress, p => p.TaskId == "second" && p.Message.Contains("setup reused", StringComparison.Ordinal));

        Commit(h, $"lock {Guid.NewGuid():N}\n");
        var after = await h.Runner.CurrentImagesAsync(CancellationToken.None);
        var stale = await catalog.PruneAsync(new ImagePruneOptions { Current = after.Tags.ToHashSet(StringComparer.Ordinal), Scope = h.Scope }, CancellationToken.None);

        Assert.DoesNotContain(setup, after.Tags);
        Assert.Contains(after.Notes, n => n.StartsWith("environment default: its setup for this commit's cache keys has not run yet", StringComparison.Ordinal));
        Assert.Contains(stale, d => d.Image.Tags.Contains(setup) && d.Removed);
        Assert.False(await docker.Engine.ImageExistsAsync(setup, CancellationToken.None));
    }

    private static void Commit(RunnerHarness h, string lockFile)
    {
        h.Repository.Write(".gitignore", "deps/\n");
        h.Repository.Write("deps.lock", lockFile);
        h.Repository.Git("add", "-A");
        h.Repository.Git("commit", "-qm", "lock");
    }

    /// <summary>The engine's images built for one repository (its scope label) only.</summary>
    private sealed class OnlyThisRepository(IBoxImages images, string scope) : IBoxImages
    {
        public Task<IReadOnlyList<EngineImage>> ListAsync(LabelSelector selector, CancellationToken cancellationToken) =>
            images.ListAsync(selector.And(Labels.Scope, scope), cancellationToken);

        public Task<IReadOnlyList<ContainerImageUse>> UsesAsync(CancellationToken cancellationToken) => images.UsesAsync(cancellationToken);

        public Task<ImageRemoval> RemoveAsync(string reference, CancellationToken cancellationToken) => images.RemoveAsync(reference, cancellationToken);

        public Task<bool> ExistsAsync(string image, CancellationToken cancellationToken) => images.ExistsAsync(image, cancellationToken);

        public Task BuildAsync(ImageRecipe recipe, CancellationToken cancellationToken) => images.BuildAsync(recipe, cancellationToken);

        public Task<ImageFacts?> InspectAsync(string image, CancellationToken cancellationToken) => images.InspectAsync(image, cancellationToken);

        public Task DeleteAsync(string image, CancellationToken cancellationToken) => images.DeleteAsync(image, cancellationToken);
    }
}

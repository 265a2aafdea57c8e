using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests;

/// <summary>
/// <c>image ls</c> / <c>image prune</c> against the real engine, on images this test builds and labels as
/// the runner would. The engine is shared, so the catalog sees only this test's images (an extra label
/// narrows every list): a prune here can never reach an image someone else built.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class ImageCatalogTests(DockerFixture docker) : IAsyncLifetime
{
    private const string TestLabel = "sandbox-runner.test";
    private readonly string _id = Guid.NewGuid().ToString("N")[..12];
    private readonly List<string> _containers = [];
    private DockerClient _client = null!;

    private string Tag(string name) => $"sandbox-runner/catalog-test-{_id}:{name}";

    public Task InitializeAsync()
    {
        _client = new DockerClientBuilder().WithEndpoint(docker.Engine.Endpoint).Build();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var id in _containers)
        {
            await _client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
        }

        foreach (var image in await _client.Images.ListImagesAsync(new ImagesListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{TestLabel}={_id}"] = true } } }))
        {
            await _client.Images.DeleteImageAsync(image.ID, new ImageDeleteParameters { Force = true });
        }

        _client.Dispose();
    }

    [Fact]
    public async Task Prune_removes_unused_runner_images_keeps_the_current_and_used_ones_and_never_an_unlabelled_one()
    {
        await BuildAsync("old", ImageRoles.Task);
        await BuildAsync("current", ImageRoles.Proxy);
        await BuildAsync("used", ImageRoles.Environment, scope: "0123456789ab");
        await BuildAsync("plain", role: null);
        await RunContainerAsync(Tag("used"));
        var catalog = new ImageCatalog(new OnlyThisTest(docker.Engine.Backend.Images, _id));
        var current = new HashSet<string> { Tag("current") };

        var listed = await catalog.ListAsync(current, CancellationToken.None);

        Assert.Equal([Tag("current"), Tag("old"), Tag("used")], listed.Select(i => i.Name).Order(StringComparer.Ordinal));
        var used = Assert.Single(listed, i => i.Name == Tag("used"));
        Assert.Equal((ImageRoles.Environment, "0123456789ab", 1, 1), (used.Role, used.Scope, used.Containers, used.RunningContainers));
        Assert.True(Assert.Single(listed, i => i.Name == Tag("current")).Current);
        Assert.All(listed, i => Assert.True(i.SizeBytes > 0));

        var decisions = await catalog.PruneAsync(new ImagePruneOptions { Current = current, Scope = "0123456789ab" }, CancellationToken.None);

        Assert.Equal([Tag("old")], decisions.Where(d => d.Removed).Select(d => d.Image.Name));
        Assert.False(await docker.Engine.ImageExistsAsync(Tag("old"), CancellationToken.None));
        Assert.True(await docker.Engine.ImageExistsAsync(Tag("current"), CancellationToken.None));
        Assert.True(await docker.Engine.ImageExistsAsync(Tag("used"), CancellationToken.None));
        Assert.True(await docker.Engine.ImageExistsAsync(Tag("plain"), CancellationToken.None));

        await catalog.PruneAsync(new ImagePruneOptions { Current = current, All = true }, CancellationToken.None);

        Assert.False(await docker.Engine.ImageExistsAsync(Tag("current"), CancellationToken.None));
        Assert.True(await docker.Engine.ImageExistsAsync(Tag("used"), CancellationToken.None));
        Assert.True(await docker.Engine.ImageExistsAsync(Tag("plain"), CancellationToken.None));
    }

    [Fact]
    public async Task The_engine_refuses_an_image_a_running_container_uses_even_when_the_catalog_missed_the_container()
    {
        await BuildAsync("raced", ImageRoles.Task);
        await RunContainerAsync(Tag("raced"));

        // As if the container started between the list and the removal.
        var decision = Assert.Single(await new ImageCatalog(new OnlyThisTest(docker.Engine.Backend.Images, _id, hideContainers: true))
            .PruneAsync(new ImagePruneOptions { All = true }, CancellationToken.None));

        Assert.False(decision.Removed);
        Assert.Contains("the engine refused", decision.Reason, StringComparison.Ordinal);
        Assert.True(await docker.Engine.ImageExistsAsync(Tag("raced"), CancellationToken.None));
    }

    private async Task BuildAsync(string name, string? role, string? scope = null)
    {
        var tag = Tag(name);
        var labels = role is null ? new Dictionary<string, string>() : new Dictionary<string, string>(ImageRecipe.RunnerLabels(role, tag, scope));
        labels[TestLabel] = _id;

        // A label of its own gives each image its own id, with no layer to build.
        var recipe = new ImageRecipe(
            tag,
            new Dictionary<string, byte[]> { ["Dockerfile"] = Encoding.UTF8.GetBytes($"FROM debian:bookworm-slim\nLABEL sandbox-runner.test-name={name}\n") },
            new Dictionary<string, string>()) { Labels = labels };
        await docker.Engine.BuildImageAsync(recipe, CancellationToken.None);
    }

    private async Task RunContainerAsync(string image)
    {
        var created = await _client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = image,
            Cmd = ["sleep", "120"],
            Labels = new Dictionary<string, string> { [TestLabel] = _id },
            HostConfig = new HostConfig { NetworkMode = "none", AutoRemove = false },
        });
        _containers.Add(created.ID);
        await _client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
    }

    /// <summary>The real engine, with image lists narrowed to this test's images.</summary>
    private sealed class OnlyThisTest(IBoxImages images, string id, bool hideContainers = false) : IBoxImages
    {
        public Task<IReadOnlyList<EngineImage>> ListAsync(LabelSelector selector, CancellationToken cancellationToken) =>
            images.ListAsync(selector.And(TestLabel, id), cancellationToken);

        public async Task<IReadOnlyList<ContainerImageUse>> UsesAsync(CancellationToken cancellationToken) =>
            hideContainers ? [] : await images.UsesAsync(cancellationToken);

        public Task<ImageRemoval> RemoveAsync(string reference, CancellationToken cancellationToken) => images.RemoveAsync(reference, cancellationToken);

        public Task<bool> ExistsAsync(string image, CancellationToken cancellationToken) => images.ExistsAsync(image, cancellationToken);

        public Task BuildAsync(ImageRecipe recipe, CancellationToken cancellationToken) => images.BuildAsync(recipe, cancellationToken);

        public Task<ImageFacts?> InspectAsync(string image, CancellationToken cancellationToken) => images.InspectAsync(image, cancellationToken);

        public Task DeleteAsync(string image, CancellationToken cancellationToken) => images.DeleteAsync(image, cancellationToken);
    }
}

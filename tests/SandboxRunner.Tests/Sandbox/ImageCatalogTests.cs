using SandboxRunner.Boxes;

namespace SandboxRunner.Tests.Sandbox;

/// <summary>The runner's images as a cache: what <c>image ls</c> shows and what <c>image prune</c> removes.</summary>
public sealed class ImageCatalogTests
{
    private const string Here = "aaaaaaaaaaaa";
    private const string Elsewhere = "bbbbbbbbbbbb";

    [Fact]
    public async Task Only_images_with_the_runners_labels_are_listed()
    {
        var engine = new FakeInventory();
        engine.Add("debian:bookworm-slim", labels: []);
        engine.Add("sandbox-runner/fake-codex:dev", labels: new() { [Labels.Role] = "task" });
        engine.Add("sandbox-runner/codex:1-x", ImageRoles.Task);

        var listed = await new ImageCatalog(engine).ListAsync(new HashSet<string>(), CancellationToken.None);

        Assert.Equal(["sandbox-runner/codex:1-x"], listed.Select(i => i.Name));
    }

    [Fact]
    public async Task A_listed_image_shows_its_role_scope_size_and_the_containers_using_it()
    {
        var engine = new FakeInventory();
        var id = engine.Add("sandbox-runner/env:x", ImageRoles.Environment, Here, size: 1234);
        engine.Use(id, running: true);
        engine.Use(id, running: false);

        var image = Assert.Single(await new ImageCatalog(engine).ListAsync(new HashSet<string> { "sandbox-runner/env:x" }, CancellationToken.None));

        Assert.Equal((ImageRoles.Environment, Here, 1234L, 2, 1, true, "sandbox-runner/env:x"), (image.Role, image.Scope, image.SizeBytes, image.Containers, image.RunningContainers, image.Current, image.BuiltAs));
    }

    [Fact]
    public async Task Prune_removes_unused_images_the_config_does_not_name()
    {
        var engine = new FakeInventory();
        engine.Add("sandbox-runner/codex:old", ImageRoles.Task);
        engine.Add("sandbox-runner/codex:new", ImageRoles.Task);

        var decisions = await new ImageCatalog(engine).PruneAsync(new ImagePruneOptions { Current = new HashSet<string> { "sandbox-runner/codex:new" }, Scope = Here }, CancellationToken.None);

        Assert.Equal(["sandbox-runner/codex:new"], engine.Tags);
        Assert.True(Assert.Single(decisions, d => d.Image.Name == "sandbox-runner/codex:old").Removed);
        Assert.Contains("current config", Assert.Single(decisions, d => d.Image.Name == "sandbox-runner/codex:new").Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Prune_never_removes_an_image_a_container_uses_even_with_all(bool running)
    {
        var engine = new FakeInventory();
        engine.Use(engine.Add("sandbox-runner/codex:old", ImageRoles.Task), running);

        var decision = Assert.Single(await new ImageCatalog(engine).PruneAsync(new ImagePruneOptions { All = true }, CancellationToken.None));

        Assert.False(decision.Removed);
        Assert.Contains("used by 1 container(s)", decision.Reason, StringComparison.Ordinal);
        Assert.Equal(["sandbox-runner/codex:old"], engine.Tags);
    }

    [Fact]
    public async Task Prune_keeps_another_repositorys_images_unless_all()
    {
        var engine = new FakeInventory();
        engine.Add("sandbox-runner/env:theirs", ImageRoles.Environment, Elsewhere);
        engine.Add("sandbox-runner/env:ours", ImageRoles.Environment, Here);
        var catalog = new ImageCatalog(engine);

        await catalog.PruneAsync(new ImagePruneOptions { Scope = Here }, CancellationToken.None);
        Assert.Equal(["sandbox-runner/env:theirs"], engine.Tags);

        await catalog.PruneAsync(new ImagePruneOptions { Scope = Here, All = true }, CancellationToken.None);
        Assert.Empty(engine.Tags);
    }

    [Fact]
    public async Task Prune_all_removes_the_current_configs_images_too()
    {
        var engine = new FakeInventory();
        engine.Add("sandbox-runner/codex:new", ImageRoles.Task);

        await new ImageCatalog(engine).PruneAsync(new ImagePruneOptions { Current = new HashSet<string> { "sandbox-runner/codex:new" }, All = true }, CancellationToken.None);

        Assert.Empty(engine.Tags);
    }

    [Fact]
    public async Task Prune_never_touches_an_unlabelled_image_even_with_all()
    {
        var engine = new FakeInventory();
        engine.Add("debian:bookworm-slim", labels: []);
        engine.Add("sandbox-runner/fake-codex:dev", labels: new() { ["sandbox-runner.codex-version"] = "0.169.0" });

        var decisions = await new ImageCatalog(engine).PruneAsync(new ImagePruneOptions { All = true }, CancellationToken.None);

        Assert.Empty(decisions);
        Assert.Equal(["debian:bookworm-slim", "sandbox-runner/fake-codex:dev"], engine.Tags);
        Assert.Empty(engine.RemoveCalls);
    }

    [Fact]
    public async Task A_dry_run_decides_and_removes_nothing()
    {
        var engine = new FakeInventory();
        engine.Add("sandbox-runner/codex:old", ImageRoles.Task);

        var decision = Assert.Single(await new ImageCatalog(engine).PruneAsync(new ImagePruneOptions { DryRun = true }, CancellationToken.None));

        Assert.True(decision.Removed);
        Assert.Contains("dry run", decision.Reason, StringComparison.Ordinal);
        Assert.Empty(engine.RemoveCalls);
    }

    [Fact]
    public async Task An_image_with_several_tags_loses_each_and_an_untagged_one_goes_by_id()
    {
        var engine = new FakeInventory();
        engine.Add(["sandbox-runner/codex:a", "mine/codex:copy"], ImageRoles.Task);
        var untagged = engine.Add([], ImageRoles.Task);

        await new ImageCatalog(engine).PruneAsync(new ImagePruneOptions(), CancellationToken.None);

        Assert.Empty(engine.Images);
        Assert.Contains(untagged, engine.RemoveCalls);
    }

    [Fact]
    public async Task An_image_a_container_took_up_after_the_list_is_kept_with_the_engines_refusal()
    {
        var engine = new FakeInventory();
        var id = engine.Add("sandbox-runner/codex:old", ImageRoles.Task);
        engine.BeforeRemove = () => engine.Use(id, running: true);

        var decision = Assert.Single(await new ImageCatalog(engine).PruneAsync(new ImagePruneOptions(), CancellationToken.None));

        Assert.False(decision.Removed);
        Assert.Contains("the engine refused", decision.Reason, StringComparison.Ordinal);
        Assert.Equal(["sandbox-runner/codex:old"], engine.Tags);
    }

    /// <summary>An engine's images and containers, with the engine's rule that an image a container uses cannot be removed unforced.</summary>
    private sealed class FakeInventory : IBoxImages
    {
        private readonly List<ContainerImageUse> _uses = [];
        private int _next;

        public List<EngineImage> Images { get; } = [];

        public List<string> RemoveCalls { get; } = [];

        public Action? BeforeRemove { get; set; }

        public IReadOnlyList<string> Tags => Images.SelectMany(i => i.Tags).Order(StringComparer.Ordinal).ToList();

        public string Add(string tag, string role, string? scope = null, long size = 100) => Add([tag], role, scope, size);

        public string Add(IReadOnlyList<string> tags, string role, string? scope = null, long size = 100) =>
            Add(tags, new Dictionary<string, string>(ImageRecipe.RunnerLabels(role, tags.Count > 0 ? tags[0] : "sandbox-runner/untagged:x", scope)), size);

        public string Add(string tag, Dictionary<string, string> labels) => Add([tag], labels, 100);

        public void Use(string imageId, bool running) => _uses.Add(new ContainerImageUse($"c{_uses.Count}", imageId, running));

        public Task<IReadOnlyList<EngineImage>> ListAsync(LabelSelector selector, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<EngineImage>>(Images.Where(i => selector.Matches(i.Labels)).ToList());

        public Task<IReadOnlyList<ContainerImageUse>> UsesAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<ContainerImageUse>>(_uses.ToList());

        public Task<bool> ExistsAsync(string image, CancellationToken cancellationToken) => Task.FromResult(Images.Any(i => i.Tags.Contains(image)));

        public Task BuildAsync(ImageRecipe recipe, CancellationToken cancellationToken) => throw new NotSupportedException("the catalog never builds");

        public Task<ImageFacts?> InspectAsync(string image, CancellationToken cancellationToken) =>
            Task.FromResult(Images.FirstOrDefault(i => i.Tags.Contains(image)) is { } found ? new ImageFacts(found.Id, found.Labels) : null);

        public Task DeleteAsync(string image, CancellationToken cancellationToken) => RemoveAsync(image, cancellationToken);

        public Task<ImageRemoval> RemoveAsync(string reference, CancellationToken cancellationToken)
        {
            BeforeRemove?.Invoke();
            RemoveCalls.Add(reference);
            var image = Images.FirstOrDefault(i => i.Id == reference || i.Tags.Contains(reference));
            if (image is null)
            {
                return Task.FromResult(new ImageRemoval(false, null));
            }

            var remaining = image.Tags.Where(t => t != reference && image.Id != reference).ToList();
            if (remaining.Count == 0 && _uses.Any(u => u.ImageId == image.Id))
            {
                return Task.FromResult(new ImageRemoval(false, $"conflict: unable to remove {reference} (must be forced) - image is being used by a container"));
            }

            Images.Remove(image);
            if (remaining.Count > 0)
            {
                Images.Add(image with { Tags = remaining });
            }

            return Task.FromResult(new ImageRemoval(remaining.Count == 0, null));
        }

        private string Add(IReadOnlyList<string> tags, Dictionary<string, string> labels, long size)
        {
            var id = $"sha256:{++_next:x64}";
            Images.Add(new EngineImage(id, tags, labels, size, DateTimeOffset.UnixEpoch.AddDays(_next)));
            return id;
        }
    }
}

/// <summary>The runner's own images are built with the labels the catalog finds them by.</summary>
public sealed class RunnerImageLabelTests
{
    [Fact]
    public void The_task_image_is_labelled_with_its_role_and_tag()
    {
        var recipe = ImageRecipe.Codex("0.169.0");

        Assert.Equal(ImageRoles.Task, recipe.Labels[Labels.Role]);
        Assert.Equal(recipe.Tag, recipe.Labels[Labels.Image]);
    }

    [Fact]
    public void The_egress_proxy_image_is_labelled_with_its_role_and_tag()
    {
        var recipe = ImageRecipe.EgressProxy();

        Assert.Equal(ImageRoles.Proxy, recipe.Labels[Labels.Role]);
        Assert.Equal(recipe.Tag, recipe.Labels[Labels.Image]);
    }

    [Fact]
    public void Labels_for_one_repository_carry_its_scope()
    {
        Assert.Equal("abc", ImageRecipe.RunnerLabels(ImageRoles.Environment, "x:y", "abc")[Labels.Scope]);
        Assert.False(ImageRecipe.RunnerLabels(ImageRoles.Task, "x:y").ContainsKey(Labels.Scope));
    }
}

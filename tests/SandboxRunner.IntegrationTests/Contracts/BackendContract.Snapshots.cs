using System.Formats.Tar;
using System.Text;
using SandboxRunner.Boxes;

namespace SandboxRunner.IntegrationTests.Contracts;

/// <summary>
/// What environments and the image verbs need of a backend's snapshots and images: a never-started box filled
/// through the archive calls and committed (an environment's run image), an image's labels read back (a setup's
/// record, its cache key), and the image cache listed by label and trimmed without force (<c>image prune</c>).
/// </summary>
public abstract partial class BackendContract
{
    [Fact]
    public async Task An_archive_put_into_a_never_started_box_is_committed_with_its_labels_and_a_box_of_the_image_lists_no_change_for_it()
    {
        var tag = $"sandbox-runner-contract/image:{Guid.NewGuid():N}";
        var labels = new Dictionary<string, string> { [Labels.Scope] = Scope.Repository!, ["contract.record"] = "setup=record; any text" };
        await using var site = await SiteAsync();
        if (!Backend.Capabilities.Snapshots)
        {
            // Capability-based opt-out, as in the commit test: a backend without snapshots refuses the commit, saying so.
            await using var refused = await site.CreateBoxAsync(
                Box(new(new BoxStep.Exit(0)), new BoxIdentity("contract-image", Purpose: BoxPurpose.Image)) with { ReadOnlyRoot = false }, CancellationToken.None);
            await Assert.ThrowsAsync<NotSupportedException>(() => refused.CommitAsync(new ImageCommit(tag, labels, []), CancellationToken.None));
            return;
        }

        try
        {
            await using (var image = await site.CreateBoxAsync(
                Box(new(new BoxStep.Exit(0)), new BoxIdentity("contract-image", Purpose: BoxPurpose.Image)) with { ReadOnlyRoot = false }, CancellationToken.None))
            {
                await image.PutArchiveAsync("/var/tmp", async (tar, ct) =>
                {
                    await using var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true);
                    await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "put.txt") { DataStream = new MemoryStream("in the image"u8.ToArray()), Mode = (UnixFileMode)0b110_100_100 }, ct);
                }, CancellationToken.None);
                await image.CommitAsync(new ImageCommit(tag, labels, ["ENTRYPOINT []", "CMD []"]), CancellationToken.None);
            }

            var facts = Assert.IsType<ImageFacts>(await Backend.Images.InspectAsync(tag, CancellationToken.None));
            await using var next = await site.CreateBoxAsync(Box(new(new BoxStep.Write("/var/tmp/task.txt", "task"), new BoxStep.Exit(0))) with { Image = tag, ReadOnlyRoot = false }, CancellationToken.None);
            await RunAsync(next);

            Assert.Equal("setup=record; any text", facts.Labels["contract.record"]);
            Assert.Equal("in the image", Encoding.UTF8.GetString(Assert.IsType<byte[]>(await next.ReadFileAsync("/var/tmp/put.txt", 1024, CancellationToken.None))));
            var changes = Assert.IsAssignableFrom<IReadOnlyList<PathChange>>(await next.ChangesAsync(1000, CancellationToken.None));
            Assert.Contains(new PathChange("/var/tmp/task.txt", PathChangeKind.Added), changes);
            Assert.DoesNotContain(changes, c => c.Path == "/var/tmp/put.txt");
        }
        finally
        {
            await Backend.RemoveRunAsync(Scope, "run-1", CancellationToken.None);
            await Backend.Images.DeleteAsync(tag, CancellationToken.None);
        }
    }

    [Fact]
    public async Task An_image_built_from_a_recipe_is_listed_by_its_labels_and_is_not_removed_while_a_box_uses_it()
    {
        var tag = $"sandbox-runner-contract/built:{Guid.NewGuid():N}";
        var recipe = new ImageRecipe(tag, new Dictionary<string, byte[]> { ["Dockerfile"] = Encoding.UTF8.GetBytes($"FROM {Image}\n") }, new Dictionary<string, string>())
        {
            Labels = ImageRecipe.RunnerLabels(ImageRoles.Environment, tag, Scope.Repository),
        };
        await Backend.Images.BuildAsync(recipe, CancellationToken.None);
        try
        {
            var listed = Assert.Single(await Backend.Images.ListAsync(LabelSelector.Of(Labels.Scope, Scope.Repository), CancellationToken.None));
            Assert.Equal([tag], listed.Tags);
            Assert.Equal(ImageRoles.Environment, listed.Labels[Labels.Role]);
            Assert.Empty(await Backend.Images.ListAsync(LabelSelector.Of(Labels.Scope, "contract-elsewhere"), CancellationToken.None));

            await using (var site = await SiteAsync())
            {
                await using var box = await site.CreateBoxAsync(Box(new(new BoxStep.Exit(0))) with { Image = tag }, CancellationToken.None);

                Assert.Contains(await Backend.Images.UsesAsync(CancellationToken.None), u => u.ContainerId == box.Id && u.ImageId == listed.Id);
                Assert.NotNull((await Backend.Images.RemoveAsync(tag, CancellationToken.None)).Refusal);
                Assert.True(await Backend.Images.ExistsAsync(tag, CancellationToken.None));
            }

            Assert.Equal(new ImageRemoval(true, null), await Backend.Images.RemoveAsync(tag, CancellationToken.None));
            Assert.False(await Backend.Images.ExistsAsync(tag, CancellationToken.None));
            Assert.Null(await Backend.Images.InspectAsync(tag, CancellationToken.None));
        }
        finally
        {
            await Backend.Images.DeleteAsync(tag, CancellationToken.None);
        }
    }
}

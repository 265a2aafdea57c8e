using SandboxRunner.Git;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Verification;

/// <summary>How an environment task's harvested changes are laid over its run image's checkout for verification.</summary>
public sealed class OverlayTests
{
    private static ChangedEntry Added(string path) => new(path, 'A', "000000", "100644", new string('a', 40));

    private static ChangedEntry Deleted(string path) => new(path, 'D', "100644", "000000", new string('0', 40));

    [Fact]
    public void Additions_are_written_and_plain_deletions_removed()
    {
        var (added, deleted) = VerifyContainer.Overlay([Added("src/a.txt"), Deleted("docs/old.txt")]);

        Assert.Equal(["src/a.txt"], added);
        Assert.Equal(["docs/old.txt"], deleted);
    }

    [Fact]
    public void A_file_made_a_folder_is_not_removed_after_the_archive_made_it_a_folder()
    {
        var (_, deleted) = VerifyContainer.Overlay([Deleted("lib/x"), Added("lib/x/inner.txt")]);

        Assert.Empty(deleted);
    }

    [Fact]
    public void A_folder_made_a_file_needs_no_removal_of_what_was_under_it()
    {
        var (added, deleted) = VerifyContainer.Overlay([Deleted("lib/x/a.txt"), Deleted("lib/x/b/c.txt"), Added("lib/x")]);

        Assert.Equal(["lib/x"], added);
        Assert.Empty(deleted);
    }

    [Fact]
    public void A_nested_repository_is_neither_written_nor_removed()
    {
        var (added, deleted) = VerifyContainer.Overlay([new ChangedEntry("vendor/lib", 'A', "000000", "160000", new string('b', 40))]);

        Assert.Equal((0, 0), (added.Count, deleted.Count));
    }
}

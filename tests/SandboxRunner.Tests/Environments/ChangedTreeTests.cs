using SandboxRunner.Environments;
using SandboxRunner.Boxes;

namespace SandboxRunner.Tests.Environments;

/// <summary>
/// What comes back of an environment task, from the engine's change list (issue 21, breach 4): under setup's
/// artefacts only what the base commit's .gitignore ignores stays behind, counted and named; any other change
/// there is the task's work and comes back like the rest.
/// </summary>
public sealed class ChangedTreeTests
{
    private static PathChange C(string path) => new("/workspace/" + path, PathChangeKind.Modified);
    private static PathChange A(string path) => new("/workspace/" + path, PathChangeKind.Added);
    private static PathChange D(string path) => new("/workspace/" + path, PathChangeKind.Deleted);

    [Fact]
    public void Work_under_an_untracked_artefact_git_does_not_ignore_comes_back()
    {
        var plan = ChangedTree.PlanOf([C("src"), C("src/lib"), A("src/lib/feature.txt"), A("src/seen.txt")], ["src/lib/"], new HashSet<string>());

        Assert.Equal(["src/lib/feature.txt", "src/seen.txt"], plan.Fetch);
        Assert.Null(plan.Unharvested);
    }

    [Fact]
    public void Ignored_artefact_churn_stays_behind_and_is_counted_with_its_first_paths()
    {
        var ignored = new HashSet<string> { "node_modules", "node_modules/a", "node_modules/a/index.js", "node_modules/b", "node_modules/old" };

        var plan = ChangedTree.PlanOf(
            [C("node_modules"), A("node_modules/a"), A("node_modules/a/index.js"), C("node_modules/b"), D("node_modules/old"), A("src/x.txt")],
            ["node_modules/"], ignored);

        Assert.Equal(["src/x.txt"], plan.Fetch);
        Assert.Empty(plan.Delete);
        Assert.Equal(3, plan.Unharvested!.Count);
        Assert.Equal(["node_modules/a", "node_modules/b", "node_modules/old"], plan.Unharvested.First);
        Assert.Contains("3 changed path(s) under the environment's setup artefacts were not harvested", plan.Unharvested.Note, StringComparison.Ordinal);
    }

    [Fact]
    public void A_crowded_folder_under_an_artefact_is_never_fetched_whole()
    {
        var many = Enumerable.Range(0, ChangedTree.MaxRootsPerFolder + 5).Select(i => A($"src/lib/f{i:D3}.txt")).ToList();

        var plan = ChangedTree.PlanOf([C("src"), C("src/lib"), .. many], ["src/lib/"], new HashSet<string>());

        Assert.Equal(many.Count, plan.Fetch.Count);
        Assert.DoesNotContain("src/lib", plan.Fetch);
    }
}

@testable import FarmCoordinator
import Testing

/// A dispatch that started nothing stands for an unchanged farm, for a while.
struct SchedulingStateTests {
    @Test func aDispatchThatStartedNothingHoldsUntilTheFarmChangesOrTimePasses() {
        var state = SchedulingState()
        let farm = [5, 2, 3]
        #expect(!state.canSkip(farm, now: 0))
        state.dispatched(0, farm: farm, now: 10)
        #expect(state.canSkip(farm, now: 10 + SchedulingState.recheck / 2))
        #expect(!state.canSkip(farm, now: 10 + SchedulingState.recheck))
        #expect(!state.canSkip([5, 1, 3], now: 10))
        #expect(!state.canSkip([6, 2, 3], now: 10))
        state.dispatched(1, farm: farm, now: 10)
        #expect(!state.canSkip(farm, now: 10))
    }
}

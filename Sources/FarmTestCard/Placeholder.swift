// FarmTestCard
